"""The engines behind the server: a base model plus adapters, and the batches run on it.

Layout (imports go one way, downwards): ``base`` (what the server asks of a model, no torch),
``torch_common`` (pieces the torch runtimes share), the runtimes (``causal_lm``, ``classifier``,
``image_classifier``), and ``loader``, which picks and loads a runtime from the settings.
"""
