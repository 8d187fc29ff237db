"""kubetune-train: the training runtime (see docs/trainer.md); ``runner.main(config)`` is the entry point."""
