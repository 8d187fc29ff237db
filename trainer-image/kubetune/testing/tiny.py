"""Tiny, random-initialised models for tests, benchmarks and the demo: never a download.

Every factory builds a model plus its tokenizer or image processor, saves both
with ``save_pretrained`` into ``directory`` (created if missing) and returns the
directory as a ``Path``, so the result loads back with the ``Auto*`` classes
exactly like a hub checkpoint would.

Public functions (stable names; other packages import them):

- ``make_tiny_causal_lm(directory, ...)``: Llama-style causal LM and a byte-level
  BPE tokenizer trained on the fly, with a ChatML chat template
  (``<|im_start|>role ... <|im_end|>``) that renders system, user, assistant and
  tool messages, assistant ``tool_calls`` and ``add_generation_prompt``.
- ``make_tiny_sequence_classifier(directory, labels=...)``: BERT-style sequence
  classifier with a WordPiece tokenizer trained on the fly; ``id2label`` set.
- ``make_tiny_image_classifier(directory, labels=...)``: ViT-style image
  classifier with a ViT image processor (resize to ``image_size``); ``id2label`` set.
- ``train_byte_level_tokenizer(corpus, vocab_size)`` and
  ``train_wordpiece_tokenizer(corpus, vocab_size)``: the tokenizers alone.
- ``DEFAULT_CORPUS``: the sentences the tokenizers learn from by default.
- ``CHAT_TEMPLATE``: the Jinja chat template set on the causal-LM tokenizer.

Example::

    from kubetune.testing.tiny import make_tiny_causal_lm
    path = make_tiny_causal_lm(tmp_path / "llama")
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)

Sizes default to something that trains in seconds on one CPU core; the
benchmark passes larger ``hidden_size`` / ``num_layers`` for a ~20M model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CAUSAL_SPECIAL_TOKENS = (PAD, BOS, EOS, UNK, IM_START, IM_END)
BERT_SPECIAL_TOKENS = (
    ("pad_token", "[PAD]"),
    ("unk_token", "[UNK]"),
    ("cls_token", "[CLS]"),
    ("sep_token", "[SEP]"),
    ("mask_token", "[MASK]"),
)

# ChatML, as many open models use it. Tool calls render as JSON inside
# <tool_call> tags so that tool-call datasets exercise their own tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message.get('content') %}{{ message['content'] }}{% endif %}"
    "{% if message.get('tool_calls') %}"
    "{% for call in message['tool_calls'] %}"
    "{% set fn = call['function'] if call.get('function') else call %}"
    "{{ '<tool_call>' + fn['name'] + ' ' }}"
    "{% if fn['arguments'] is string %}{{ fn['arguments'] }}"
    "{% else %}{{ fn['arguments'] | tojson }}{% endif %}"
    "{{ '</tool_call>' }}"
    "{% endfor %}"
    "{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

DEFAULT_CORPUS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "Two plus two equals four. Three times three is nine.",
    "You are a helpful assistant. Answer briefly and correctly.",
    "Translate to French: hello -> bonjour, thank you -> merci.",
    "Think step by step, then give the final answer.",
    "The weather today is sunny with a light breeze from the west.",
    "def add(a, b):\n    return a + b\n",
    '{"name": "get_weather", "arguments": {"city": "Berlin"}}',
    "This movie was wonderful, I loved it. This movie was terrible, I hated it.",
    "positive negative neutral label text image instruction input output",
    "Kubernetes runs containers in pods; a Job runs pods to completion.",
    "user assistant system tool reasoning answer question",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
)


def _corpus(extra: Iterable[str] | None) -> list[str]:
    lines = list(DEFAULT_CORPUS)
    if extra is not None:
        lines.extend(extra)
    return lines


def train_byte_level_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer (every string encodes) wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(CAUSAL_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(corpus), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[IM_START, IM_END],
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def train_wordpiece_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 512) -> Any:
    """A lower-casing WordPiece tokenizer with BERT's special tokens and [CLS] ... [SEP] framing."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    named = dict(BERT_SPECIAL_TOKENS)
    specials = list(named.values())
    tokenizer = Tokenizer(models.WordPiece(unk_token=named["unk_token"]))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator(_corpus(corpus), trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **named)  # type: ignore[no-untyped-call]


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def make_tiny_causal_lm(
    directory: str | Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    intermediate_size: int | None = None,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    max_position_embeddings: int = 512,
    corpus: Iterable[str] | None = None,
    seed: int = 0,
) -> Path:
    """Save a random Llama-style causal LM and its chat tokenizer into ``directory``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_byte_level_tokenizer(corpus, vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads or num_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    _seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _label_maps(labels: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"need at least two distinct labels, got {list(labels)}")
    return dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}


def make_tiny_sequence_classifier(
    directory: str | Path,
    *,
    labels: Sequence[str] = ("negative", "positive"),
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_position_embeddings: int = 512,
    initializer_range: float = 0.2,
    dropout: float = 0.0,
    corpus: Iterable[str] | None = None,
    seed: int = 0,
) -> Path:
    """Save a random BERT-style sequence classifier and its WordPiece tokenizer into ``directory``."""
    from transformers import BertConfig, BertForSequenceClassification

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_wordpiece_tokenizer(corpus, vocab_size)
    id2label, label2id = _label_maps(labels)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        # A wider init than BERT's 0.02: at this size, 0.02 leaves the pooled [CLS]
        # almost identical for every input, and a frozen base (LoRA) cannot learn.
        initializer_range=initializer_range,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        id2label=id2label,
        label2id=label2id,
    )
    _seed(seed)
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def make_tiny_image_classifier(
    directory: str | Path,
    *,
    labels: Sequence[str] = ("cat", "dog"),
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
) -> Path:
    """Save a random ViT-style image classifier and its image processor into ``directory``."""
    from transformers import ViTConfig, ViTForImageClassification

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    id2label, label2id = _label_maps(labels)
    config = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        num_channels=3,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        id2label=id2label,
        label2id=label2id,
    )
    _seed(seed)
    ViTForImageClassification(config).save_pretrained(out)
    _image_processor(image_size).save_pretrained(out)
    return out


def _image_processor(image_size: int) -> Any:
    # Without torchvision, transformers 5 offers the PIL-backed processor; name it
    # directly rather than let the generic class warn and fall back.
    import transformers

    cls = getattr(transformers, "ViTImageProcessorPil", None) or transformers.ViTImageProcessor
    return cls(
        do_resize=True,
        size={"height": image_size, "width": image_size},
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
