"""vLLM as the engine of causal LMs: vLLM's OpenAI server runs the model (continuous batching, paged KV
cache, multi-LoRA); kubetune's server stays in front of it and calls it over localhost, so seed 002's
routes, admission, the result cache and API keys work unchanged (docs/inference.md, "The vLLM runtime").
"""
