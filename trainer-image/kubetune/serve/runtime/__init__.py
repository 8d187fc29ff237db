"""The model side of the server: loading a base model plus adapters and running batches on it."""
