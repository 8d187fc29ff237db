"""Request and response models of each API family (what OpenAPI documents)."""
