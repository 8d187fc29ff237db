"""The official openai client against a real uvicorn server running the tiny Llama-style model."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import uvicorn

from kubetune.serve.app import create_app
from kubetune.serve.engines.loader import load_runtime
from kubetune.serve.settings import ServeSettings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def base_url(tiny_lm: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base, adapter = tiny_lm
    key_file = tmp_path_factory.mktemp("keys") / "keys"
    key_file.write_text("test-key\n")
    settings = ServeSettings(
        model_uri=str(base), adapters={"chat": str(adapter)}, model_name="tiny", api_key_file=key_file
    )
    app = create_app(settings, load_runtime)
    # Bind and listen before the server thread starts: clients queue in the backlog, no race, no polling.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert app.state.engine.load_finished.wait(timeout=120)
    assert app.state.engine.runtime is not None
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0, timeout=60)


def test_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["tiny", "chat"]


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "What is 2+2?"}], max_tokens=5, temperature=0
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert isinstance(reply.choices[0].message.content, str)
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None and reply.usage.prompt_tokens > 0


def test_completion(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="tiny", prompt="The quick brown fox", max_tokens=4, temperature=0)
    assert reply.object == "text_completion"
    assert reply.usage is not None and 1 <= reply.usage.completion_tokens <= 4
    again = client.completions.create(model="tiny", prompt="The quick brown fox", max_tokens=4, temperature=0)
    assert again.choices[0].text == reply.choices[0].text


def test_streaming_completion_matches_the_plain_one(client: openai.OpenAI) -> None:
    plain = client.completions.create(model="tiny", prompt="Two plus two", max_tokens=6, temperature=0)
    stream = client.completions.create(model="tiny", prompt="Two plus two", max_tokens=6, temperature=0, stream=True)
    chunks = list(stream)
    assert len(chunks) >= 2
    assert "".join(c.choices[0].text for c in chunks) == plain.choices[0].text
    assert chunks[-1].choices[0].finish_reason == plain.choices[0].finish_reason


def test_streaming_chat(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Say hello"}], max_tokens=6, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_wrong_key_and_unknown_model(base_url: str, client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="missing", prompt="x", max_tokens=2)


def test_a_seed_makes_sampling_repeatable_on_the_real_model(client: openai.OpenAI) -> None:
    def sample(seed: int) -> list[str]:
        reply = client.completions.create(model="tiny", prompt="Once upon", max_tokens=8, temperature=1.5,
                                          n=2, seed=seed)
        return [choice.text for choice in reply.choices]

    first = sample(11)
    assert sample(11) == first
    assert any(sample(seed) != first for seed in (12, 13, 14))  # the seed is what fixed it


def test_tools_are_refused_by_name_not_ignored(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        )
    assert caught.value.param == "tools"
    assert "tool-call parser" in caught.value.message


def test_embeddings_through_the_sdk_are_unit_vectors_that_tell_texts_apart(client: openai.OpenAI) -> None:
    import math

    texts = ["The quick brown fox", "The quick brown fox", "jumps over the lazy dog again and again"]
    result = client.embeddings.create(model="tiny", input=texts)  # the SDK asks for base64
    vectors = [item.embedding for item in result.data]
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vectors)
    same = sum(a * b for a, b in zip(vectors[0], vectors[1], strict=True))
    other = sum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    assert same > 0.9999 and other < same
    assert result.usage.prompt_tokens > 0
    floats = client.embeddings.create(model="chat", input="The quick brown fox", encoding_format="float")
    assert len(floats.data[0].embedding) == len(vectors[0])  # the adapter's model has the same width
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="tiny", input="x", dimensions=8)
    assert caught.value.param == "dimensions"


def test_logprobs_of_greedy_tokens_are_the_top_choice(client: openai.OpenAI) -> None:
    chat = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Count"}],
                                          max_tokens=5, temperature=0, logprobs=True, top_logprobs=3)
    choice = chat.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    content = choice.logprobs.content
    assert "".join(t.token for t in content) == choice.message.content
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token  # greedy: what was chosen was the most likely
        assert token.top_logprobs[0].logprob == pytest.approx(token.logprob, abs=1e-5)
        assert [t.logprob for t in token.top_logprobs] == sorted((t.logprob for t in token.top_logprobs),
                                                                  reverse=True)
    legacy = client.completions.create(model="tiny", prompt="Once upon", max_tokens=4, temperature=0, logprobs=2)
    lp = legacy.choices[0].logprobs
    assert lp is not None and lp.tokens is not None and lp.token_logprobs is not None
    assert "".join(lp.tokens) == legacy.choices[0].text
    assert lp.text_offset is not None and lp.text_offset[0] == 0
    assert lp.top_logprobs is not None and all(len(t) <= 2 for t in lp.top_logprobs)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x"}], logprobs=True,
                                       stream=True)
    assert caught.value.param == "logprobs"
