"""Which OpenAI request parameters the kubetune runtime honours, and a 400 naming each one it cannot.

Honoured: model, prompt/messages, max_tokens/max_completion_tokens, temperature, top_p, n, stop,
seed, stream, stream_options.include_usage, user (an opaque tag), logprobs/top_logprobs (without
stream, on engines that return them). Accepted only at their no-op
value: presence/frequency_penalty 0, an empty logit_bias, echo false, best_of = n, an empty suffix,
tool_choice "none", response_format {"type": "text"}. Everything else (tools, JSON output,
unknown fields) is refused with 400 ``unsupported_parameter``: transformers' generate
has no grammar-constrained decoding or tool parser here, and a parameter accepted and ignored
would tell the caller something false about the answer.
"""

from __future__ import annotations

from kubetune.serve.errors import unsupported_parameter
from kubetune.serve.openai_schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    _OpenAIRequest,
)

# Both engines: the vllm engine sends vLLM token ids and reads plain completions, so vLLM's tool parser and
# guided decoding are not reached through kubetune's server either.
NO_TOOLS = "kubetune's server has no tool-call parser (on either runtime)"
NO_JSON = "kubetune's server cannot constrain output to JSON (on either runtime); use response_format text"
NO_LOGPROBS = "this engine does not return token log-probabilities"
NO_STREAMED_LOGPROBS = "log-probabilities are returned without stream only"


def _common(body: _OpenAIRequest) -> None:
    for name in sorted(body.model_extra or {}):
        raise unsupported_parameter(name, "unrecognized request argument")
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(body, name):
            raise unsupported_parameter(name, "penalties are not applied by the kubetune runtime; send 0")
    if body.logit_bias:
        raise unsupported_parameter("logit_bias", "the kubetune runtime does not apply logit biases")
    if body.stream and body.n > 1:
        raise unsupported_parameter("n", "streaming supports n=1 only")
    options = dict(body.stream_options or {})
    if options and not body.stream:
        raise unsupported_parameter("stream_options", "only allowed with stream: true")
    unknown = sorted(set(options) - {"include_usage"})
    if unknown:
        raise unsupported_parameter(f"stream_options.{unknown[0]}", "unrecognized stream option")


def check_completion(body: CompletionRequest) -> None:
    _common(body)
    if body.logprobs is not None and body.stream:
        raise unsupported_parameter("logprobs", NO_STREAMED_LOGPROBS)
    if body.echo:
        raise unsupported_parameter("echo", "the prompt is not echoed by the kubetune runtime")
    if body.best_of not in (None, body.n):
        raise unsupported_parameter("best_of", "only best_of = n is supported (no server-side ranking)")
    if body.suffix:
        raise unsupported_parameter("suffix", "insertion (suffix) is not supported")


def check_chat(body: ChatCompletionRequest) -> None:
    _common(body)
    if body.top_logprobs and not body.logprobs:
        raise unsupported_parameter("top_logprobs", "needs logprobs: true")
    if body.logprobs and body.stream:
        raise unsupported_parameter("logprobs", NO_STREAMED_LOGPROBS)
    if body.tools or body.functions:
        raise unsupported_parameter("tools" if body.tools else "functions", NO_TOOLS)
    for name in ("tool_choice", "function_call"):
        if getattr(body, name) not in (None, "none"):
            raise unsupported_parameter(name, NO_TOOLS)
    kind = (body.response_format or {}).get("type", "text")
    if kind != "text":
        raise unsupported_parameter("response_format", f"{kind}: {NO_JSON}")


def logprobs_wanted(body: _OpenAIRequest) -> int | None:
    """How many alternatives per token the request asks for; None when it asks for no logprobs."""
    if isinstance(body, CompletionRequest):
        return body.logprobs
    if isinstance(body, ChatCompletionRequest) and body.logprobs:
        return body.top_logprobs or 0
    return None


def include_usage(body: _OpenAIRequest) -> bool:
    return bool((body.stream_options or {}).get("include_usage"))


def embedding_texts(body: EmbeddingRequest) -> list[str]:
    """The texts to embed; token-id input and ``dimensions`` are refused by name."""
    for name in sorted(body.model_extra or {}):
        raise unsupported_parameter(name, "unrecognized request argument")
    if body.dimensions is not None:
        raise unsupported_parameter("dimensions", "embeddings have the model's hidden size; it cannot be shortened")
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not all(isinstance(text, str) for text in texts):
        raise unsupported_parameter("input", "token-id input is not supported; send text")
    return [str(text) for text in texts]
