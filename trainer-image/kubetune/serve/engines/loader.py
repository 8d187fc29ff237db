"""From model uris to a ready runtime: resolve the uri, load the base model, attach the adapters."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kubetune.serve.engines.base import ModelRuntime
from kubetune.serve.settings import ServeSettings
from kubetune.train import uris

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """The model or an adapter could not be found or loaded."""


def resolve_uri(uri: str, settings: ServeSettings) -> Path:
    """A local directory holding the files behind ``uri`` (downloading s3:// and hf:// ones)."""
    if not uri:
        raise ModelLoadError("no model uri configured (--model-uri / KUBETUNE_SERVE_MODEL_URI)")
    try:
        path = uris.resolve(uri, pvc_mounts=settings.pvc_mount_root, cache=settings.download_dir)
    except (ValueError, FileNotFoundError) as exc:
        raise ModelLoadError(str(exc)) from exc
    if not path.is_dir():
        raise ModelLoadError(f"{uri} is not a directory ({path})")
    return path


def pick_device(setting: str) -> str:
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting


def pick_dtype(setting: str, device: str) -> Any:
    import torch

    if setting != "auto":
        return getattr(torch, setting)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_runtime(settings: ServeSettings) -> ModelRuntime:
    """Load what the settings describe; raises ModelLoadError with a clear message."""
    base = resolve_uri(settings.model_uri, settings)
    adapters = {name: resolve_uri(uri, settings) for name, uri in settings.adapters.items()}
    if settings.engine == "vllm":
        return _load_vllm(settings, base, adapters)
    device = pick_device(settings.device)
    dtype = pick_dtype(settings.dtype, device)
    log.info("loading %s model from %s on %s (%s), adapters %s", settings.task, base, device, dtype, list(adapters))
    try:
        if settings.task == "causal-lm":
            from kubetune.serve.engines.causal_lm import CausalLMRuntime

            return CausalLMRuntime.load(base, adapters, device, dtype, settings.max_input_tokens)
        if settings.task == "sequence-classification":
            from kubetune.serve.engines.classifier import SequenceClassifierRuntime

            return SequenceClassifierRuntime.load(base, adapters, device, dtype, settings.max_input_tokens)
        from kubetune.serve.engines.image_classifier import ImageClassifierRuntime

        return ImageClassifierRuntime.load(base, adapters, device, dtype)
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(f"cannot load the model from {base}: {error}") from error


def _load_vllm(settings: ServeSettings, base: Path, adapters: dict[str, Path]) -> ModelRuntime:
    """The tokenizer here, the model in vLLM's process (which loads it from the same directory)."""
    if settings.task != "causal-lm":
        raise ModelLoadError(f"the vllm engine serves causal-lm models, not {settings.task}")
    from kubetune.serve.engines.vllm.client import VLLMError
    from kubetune.serve.engines.vllm.process import VLLMProcess, vllm_arguments
    from kubetune.serve.engines.vllm.runtime import VLLMRuntime

    log.info("serving %s through vLLM at %s, adapters %s", base, settings.vllm_url, list(adapters))
    process = None
    if settings.vllm_command:
        args = vllm_arguments(base, settings.served_model_name, settings.vllm_url, True, settings.vllm_args)
        process = VLLMProcess(settings.vllm_command, args)
    try:
        if process is not None:
            process.start()
        return VLLMRuntime.load(
            base,
            adapters,
            settings.vllm_url,
            settings.served_model_name,
            settings.max_input_tokens,
            settings.vllm_start_timeout_seconds,
            process,
        )
    except (OSError, ValueError, VLLMError) as error:
        if process is not None:
            process.stop()
        raise ModelLoadError(f"cannot serve {base} through vLLM: {error}") from error
