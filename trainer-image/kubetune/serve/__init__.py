"""kubetune-serve: the inference server inside every InferenceService pod.

Seed 002's API (``/infer``, ``/infer/image``, ``/infer/batch``, ``/stream``,
``/stream/infer``, ``/healthz``, ``/readyz``), seed 003's generate call and the
OpenAI-compatible ``/v1`` routes over a base model plus LoRA adapters, with
admission control, dynamic batching and a result cache. ``create_app`` in
``kubetune.serve.app`` builds the application; ``kubetune.serve.cli`` runs it.
"""
