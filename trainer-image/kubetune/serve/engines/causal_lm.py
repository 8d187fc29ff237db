"""Causal language models: generation (batched and streamed), chat prompts, and text scoring.

The /infer score of a causal LM is the inverse perplexity of the text,
exp(mean token log-probability), in (0, 1]; its confidence is the mean
probability of the model's own top choice at each position.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from kubetune.serve.engines.base import (
    Embedding,
    Generation,
    GenerationRequest,
    ModelRuntime,
    NoChatTemplateError,
    Sampling,
    Score,
    TokenLogprob,
)
from kubetune.serve.engines.torch_common import (
    adapter_scope,
    attach_adapters,
    mean_pooled,
    mean_score,
    pad,
    token_log_probs,
)


class _TextStreamer(BaseStreamer):
    """Decodes generated tokens as they come and hands over whole characters only."""

    def __init__(self, tokenizer: Any, on_text: Callable[[str], None]) -> None:
        self._tokenizer = tokenizer
        self._on_text = on_text
        self._tokens: list[int] = []
        self._sent = ""
        self._waiting = 0
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        self._tokens.extend(int(t) for t in value.reshape(-1))
        self._waiting += 1
        text = self._tokenizer.decode(self._tokens, skip_special_tokens=True)
        # A byte-level token can end inside a multi-byte character: wait for the rest, but
        # no longer than a UTF-8 character can take (4 bytes), since the bytes may just be invalid.
        if (text.endswith("\ufffd") and self._waiting < 4) or not text.startswith(self._sent):
            return
        self._waiting = 0
        if len(text) > len(self._sent):
            self._on_text(text[len(self._sent) :])
            self._sent = text

    def end(self) -> None:
        # Sent text cannot be taken back: when a late byte changed an earlier character,
        # the rest is sent as it stands (the final result carries the exact whole text).
        text = self._tokenizer.decode(self._tokens, skip_special_tokens=True)
        if len(text) > len(self._sent):
            self._on_text(text[len(self._sent) :])
            self._sent = text


class _StopWhen(StoppingCriteria):
    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self._should_stop = should_stop

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self._should_stop(), dtype=torch.bool, device=input_ids.device)


def _seed(sampling: Sampling) -> None:
    """A seeded request samples from a generator reset to its seed (on the one model thread)."""
    if sampling.seed is not None and not sampling.greedy:
        torch.manual_seed(sampling.seed)


class CausalLMRuntime(ModelRuntime):
    task = "causal-lm"
    supports_logprobs = True

    def __init__(self, model: Any, tokenizer: Any, device: str, max_input_tokens: int, adapters: list[str]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.adapters = adapters
        self.max_input_tokens = max_input_tokens
        self.eos_ids = self._eos_ids()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]
        # Scoring needs a token before the text's first one; BOS is the natural one.
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.pad_id
        self.prefix_id: int = int(prefix)

    @classmethod
    def load(
        cls, path: Path, adapters: dict[str, Path], device: str, dtype: Any, max_input_tokens: int
    ) -> CausalLMRuntime:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model = attach_adapters(model, adapters).to(device).eval()
        return cls(model, tokenizer, device, max_input_tokens, list(adapters))

    def _eos_ids(self) -> list[int]:
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if configured is None:
            configured = self.tokenizer.eos_token_id
        ids = configured if isinstance(configured, list) else [configured]
        return [int(i) for i in ids if i is not None] or [0]

    # Tokens
    def _encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        return ids[-self.max_input_tokens :]  # keep the end: it is what the continuation follows

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise NoChatTemplateError("the served tokenizer has no chat template")
        prompt: str = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return prompt

    # Scoring
    def score_texts(self, texts: list[str], adapter: str | None) -> list[Score]:
        sequences = []
        for text in texts:
            ids = self._encode(text)
            sequences.append(ids if ids and ids[0] == self.prefix_id else [self.prefix_id, *ids])
        input_ids, mask = pad(sequences, self.pad_id, left=False, device=self.device)
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits
        chosen, best = token_log_probs(logits[:, :-1], input_ids[:, 1:])
        target_mask = mask[:, 1:].float()
        results = []
        for row in range(len(texts)):
            score, confidence = mean_score(chosen[row], best[row], target_mask[row])
            results.append(Score(round(score, 6), round(confidence, 6)))
        return results

    # Embeddings
    def embed_texts(self, texts: list[str], adapter: str | None) -> list[Embedding]:
        """Mean of the last layer's hidden states over each text's tokens (docs/inference.md)."""
        sequences = [self._encode(text) or [self.prefix_id] for text in texts]
        input_ids, mask = pad(sequences, self.pad_id, left=False, device=self.device)
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            hidden = self.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        return [Embedding(vector, len(seq)) for vector, seq in zip(mean_pooled(hidden, mask), sequences, strict=True)]

    # Generation
    def _generate_kwargs(self, sampling: Sampling, max_new_tokens: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "pad_token_id": self.pad_id,
            "eos_token_id": self.eos_ids,
            "return_dict_in_generate": True,
            "output_logits": True,
        }
        if sampling.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=None)
        return kwargs

    def _finish(
        self, tokens: list[int], logits: torch.Tensor, prompt_tokens: int, limit: int, logprobs: int | None = None
    ) -> Generation:
        """Cut one row at its first end-of-sequence token or its own limit, and score it."""
        kept: list[int] = []
        finish = "length"
        for token in tokens[:limit]:
            if token in self.eos_ids:
                finish = "stop"
                break
            kept.append(token)
        if finish == "length" and len(tokens) < limit:
            finish = "stop"  # stopped early on request
        steps = len(kept) + (1 if finish == "stop" and len(kept) < len(tokens) else 0)
        if steps:
            chosen, best = token_log_probs(logits[:steps], torch.tensor(tokens[:steps], device=logits.device))
            score, confidence = mean_score(chosen, best, torch.ones(steps, device=logits.device))
        else:
            score, confidence = 1.0, 1.0
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        details = self._token_logprobs(kept, logits, logprobs) if logprobs is not None else None
        return Generation(text, prompt_tokens, len(kept), finish, round(score, 6), round(confidence, 6), details)

    def _token_logprobs(self, kept: list[int], logits: torch.Tensor, top: int) -> tuple[TokenLogprob, ...]:
        """Each returned token's log-probability under the model's logits at its step (before
        temperature and top_p), and the ``top`` most likely tokens there."""
        if not kept:
            return ()
        log_probs = torch.log_softmax(logits[: len(kept)].float(), dim=-1)
        chosen = log_probs.gather(-1, torch.tensor(kept, device=logits.device).unsqueeze(-1)).squeeze(-1).tolist()
        values, ids = log_probs.topk(top, dim=-1)
        decode = self.tokenizer.decode
        return tuple(
            TokenLogprob(
                decode([token]),
                round(lp, 6),
                tuple((decode([int(i)]), round(float(v), 6)) for v, i in zip(vs, row, strict=True)),
            )
            for token, lp, vs, row in zip(kept, chosen, values.tolist(), ids.tolist(), strict=True)
        )

    def generate(self, requests: list[GenerationRequest], sampling: Sampling, adapter: str | None) -> list[Generation]:
        _seed(sampling)
        prompts = [self._encode(r.prompt, r.add_special_tokens) or [self.prefix_id] for r in requests]
        input_ids, mask = pad(prompts, self.pad_id, left=True, device=self.device)
        longest = max(r.max_new_tokens for r in requests)
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            out = self.model.generate(
                input_ids=input_ids, attention_mask=mask, **self._generate_kwargs(sampling, longest)
            )
        new_tokens = out.sequences[:, input_ids.shape[1] :].tolist()
        logits = torch.stack(out.logits, dim=1) if out.logits else torch.empty(len(requests), 0, 1)
        return [
            self._finish(
                new_tokens[row], logits[row], len(prompts[row]), requests[row].max_new_tokens, requests[row].logprobs
            )
            for row in range(len(requests))
        ]

    def stream_generate(
        self,
        request: GenerationRequest,
        sampling: Sampling,
        adapter: str | None,
        on_text: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> Generation:
        prompt = self._encode(request.prompt, request.add_special_tokens) or [self.prefix_id]
        input_ids, mask = pad([prompt], self.pad_id, left=True, device=self.device)
        _seed(sampling)
        with torch.inference_mode(), adapter_scope(self.model, adapter):
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                streamer=_TextStreamer(self.tokenizer, on_text),
                stopping_criteria=StoppingCriteriaList([_StopWhen(should_stop)]),
                **self._generate_kwargs(sampling, request.max_new_tokens),
            )
        tokens = out.sequences[0, input_ids.shape[1] :].tolist()
        logits = torch.stack(out.logits, dim=1)[0] if out.logits else torch.empty(0, 1)
        return self._finish(tokens, logits, len(prompt), request.max_new_tokens)

    def after_out_of_memory(self) -> None:
        if self.device == "cuda":
            torch.cuda.empty_cache()
