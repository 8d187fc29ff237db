"""How the processes share the model: DDP (replicas; LoRA/QLoRA) or FSDP2 (``fully_shard``; full).

``prepare`` returns a ``Prepared``: the module the loop calls, plus what differs between strategies
(gradient sync across accumulation, autocast, the gradient norm of sharded gradients, the full state
dict for the final artifacts). One process runs the plain module through the same interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from kubetune.crd.runconfig import RunDistributed
from kubetune.train.distributed.world import World


def compute_precision(wanted: str, device: Any) -> Any:
    """torch.bfloat16 when mixed precision applies, else None (float32 compute)."""
    import torch

    if wanted == "no":
        return None
    if wanted == "bf16":
        return torch.bfloat16
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    return torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else None


def _decoder_layers(model: Any) -> list[Any]:
    """The repeated blocks to shard one by one (transformers names them in ``_no_split_modules``)."""
    from kubetune.train.lm_loss import causal_lm_of

    inner = causal_lm_of(model)
    names = set(getattr(inner, "_no_split_modules", None) or [])
    return [m for m in inner.modules() if type(m).__name__ in names]


def enable_activation_checkpointing(model: Any) -> None:
    """Recompute each block's activations in backward (non-reentrant: works with frozen inputs and FSDP2)."""
    from kubetune.train.lm_loss import causal_lm_of

    inner = causal_lm_of(model)
    if not getattr(inner, "supports_gradient_checkpointing", False):
        raise ValueError(f"{type(inner).__name__} does not support activation checkpointing")
    inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    inner.config.use_cache = False


@dataclass
class Prepared:
    """The model as the loop drives it."""

    module: Any  # what the loop calls (DDP / FSDP / plain)
    strategy: str  # "single", "ddp" or "fsdp"
    autocast_dtype: Any  # autocast around forward/backward (DDP, single); FSDP casts itself
    device: Any

    @contextmanager
    def accumulating(self, sync: bool) -> Iterator[None]:
        """Skip the gradient all-reduce on every micro-batch of a window but the last."""
        if sync or self.strategy == "single":
            yield
        elif self.strategy == "ddp":
            with self.module.no_sync():
                yield
        else:
            self.module.set_requires_gradient_sync(False)
            try:
                yield
            finally:
                self.module.set_requires_gradient_sync(True)

    def autocast(self) -> Any:
        if self.autocast_dtype is None:
            return nullcontext()
        import torch

        return torch.autocast(device_type=getattr(self.device, "type", "cpu"), dtype=self.autocast_dtype)

    def clip_grad_norm(self, max_norm: float) -> float:
        """Clip by the global norm; FSDP's sharded gradients give a DTensor norm, made whole here."""
        import torch

        params = [p for p in self.module.parameters() if p.requires_grad]
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        full = getattr(norm, "full_tensor", None)
        return float(full() if callable(full) else norm)


def _fully_shard(model: Any, root: Any, config: RunDistributed, world: World, dtype: Any) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    mesh = init_device_mesh(world.device.type, (world.world_size,))
    # Gradients reduce in float32 even when compute is bf16: sums over many ranks lose bits in bf16.
    precision = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=None if dtype is None else _float32())
    offload = CPUOffloadPolicy() if config.cpu_offload else OffloadPolicy()
    for layer in _decoder_layers(model):
        fully_shard(layer, mesh=mesh, mp_policy=precision, offload_policy=offload)
    # The root is what the loop calls (the loss wrapper, when there is one): its forward is what
    # gathers the parameters outside the blocks (embeddings, final norm, head).
    fully_shard(root, mesh=mesh, mp_policy=precision, offload_policy=offload)


def _float32() -> Any:
    import torch

    return torch.float32


def prepare(model: Any, loss_module: Any, config: RunDistributed, world: World) -> Prepared:
    """Wrap ``loss_module`` (``model`` itself, or a loss wrapper around it) for the strategy.

    ``model`` is sharded in place under FSDP (its parameters become DTensors); the caller keeps
    using ``model`` for state dicts and saving.
    """
    if config.activation_checkpointing:
        enable_activation_checkpointing(model)
    dtype = compute_precision(config.mixed_precision, world.device)
    if getattr(model, "hf_device_map", None) is None:  # 4-bit bases are placed at load time
        model.to(world.device if not (config.cpu_offload and config.strategy == "fsdp") else "cpu")
    if not world.distributed:
        return Prepared(loss_module, "single", dtype, world.device)
    if config.strategy == "fsdp":
        _fully_shard(model, loss_module, config, world, dtype)
        return Prepared(loss_module, "fsdp", None, world.device)
    from torch.nn.parallel import DistributedDataParallel

    ids = [world.device.index] if world.device.type == "cuda" else None
    return Prepared(DistributedDataParallel(loss_module, device_ids=ids), "ddp", dtype, world.device)


def full_state_dict(model: Any, prepared: Prepared) -> dict[str, Any] | None:
    """The whole model's state on CPU for saving by rank 0: a collective under FSDP, None otherwise
    (replicas and single processes save the module's own state)."""
    if prepared.strategy != "fsdp":
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
