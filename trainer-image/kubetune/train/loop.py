"""The training loop: a lean loop on accelerate (see docs/trainer.md for why not Trainer).

It owns the data order (seeded per epoch), gradient accumulation with loss
normalised by the tokens of the whole accumulation window, the LR schedule,
evaluation and checkpoints. Everything it has to say goes through ``notify``
(kind, record), so reporting never blocks or shapes the loop.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import RunHyperparameters
from kubetune.train import checkpoint
from kubetune.train.data import Batches
from kubetune.train.lm_loss import supervised_loss, supports_supervised_loss

Notify = Callable[[str, dict[str, Any]], None]
Collate = Callable[[list[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    """How many optimizer steps the run takes."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int


def make_plan(num_batches: int, hp: RunHyperparameters) -> Plan:
    """Steps per epoch (accumulation windows) and in total; ``max_steps`` wins over ``epochs``."""
    if num_batches == 0:
        raise ValueError("the training split is empty after encoding")
    per_epoch = math.ceil(num_batches / hp.gradient_accumulation_steps)
    total = hp.max_steps or max(1, math.ceil(hp.epochs * per_epoch))
    return Plan(per_epoch, total, math.ceil(hp.warmup_ratio * total))


def _device_batch(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) for k, v in batch.items()}


def _optimizer(model: Any, hp: RunHyperparameters) -> Any:
    import torch

    decay: list[Any] = []
    no_decay: list[Any] = []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=hp.learning_rate)


def _window_tokens(batches: list[dict[str, Any]]) -> int:
    # Tokens that carry loss after the causal shift: the denominator of the window's mean loss.
    return sum(int((b["labels"][:, 1:] != -100).sum()) for b in batches)


def model_inputs(batch: dict[str, Any], *, causal: bool) -> dict[str, Any]:
    """The forward arguments for a collated batch.

    Causal LMs run with ``use_cache=False``: a KV cache is useless in training, costs memory, and
    its presence stops transformers from recognising packed rows. Packed rows lose their 2D mask so
    that transformers derives a block-diagonal causal mask from the restarting position ids
    (packed examples never attend to each other).
    """
    if not causal:
        return batch
    inputs = {k: v for k, v in batch.items() if not (k == "attention_mask" and "position_ids" in batch)}
    inputs["use_cache"] = False
    return inputs


def _input_tokens(batch: dict[str, Any]) -> int:
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["labels"].shape[0])


@dataclass
class Loop:
    """One training run's loop state and machinery."""

    model: Any
    train_features: list[dict[str, Any]]
    eval_features: list[dict[str, Any]]
    collate: Collate
    hp: RunHyperparameters
    causal: bool
    output: Path
    notify: Notify
    world_size: int = 1
    rank: int = 0

    def uses_supervised_loss(self) -> bool:
        """Causal LMs whose head allows it compute logits only where labels carry (lm_loss.py);
        ``hyperparameters.extra.supervised_loss: false`` keeps the model's own forward."""
        wanted = bool(self.hp.extra.get("supervised_loss", True))
        return self.causal and wanted and supports_supervised_loss(self.model)

    def run(self, resume_from: Path | None = None) -> dict[str, Any]:
        """Train to the planned step; returns the final loop state."""
        import torch
        from accelerate import Accelerator
        from transformers import get_scheduler

        hp = self.hp
        use_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        accelerator = Accelerator(mixed_precision="bf16" if use_bf16 else "no", cpu=not torch.cuda.is_available())
        self.world_size, self.rank = accelerator.num_processes, accelerator.process_index
        random.seed(hp.seed)
        torch.manual_seed(hp.seed)
        batches = Batches(len(self.train_features), hp.batch_size * self.world_size, hp.seed)
        plan = make_plan(len(batches), hp)
        supervised = self.uses_supervised_loss()
        # The loss module wraps the model, so that DDP sees the forward that actually runs.
        model = accelerator.prepare_model(supervised_loss(self.model) if supervised else self.model)
        raw = self.model  # the weights to checkpoint, without any wrapper's prefix
        optimizer = _optimizer(model, hp)
        scheduler = get_scheduler(
            hp.lr_scheduler, optimizer, num_warmup_steps=plan.warmup_steps, num_training_steps=plan.total_steps
        )
        state: dict[str, Any] = {"step": 0, "epoch": 0, "window": 0, "tokens": 0}
        if resume_from is not None:
            state = checkpoint.load(resume_from, model=raw, optimizer=optimizer, scheduler=scheduler)
            self.notify("resumed", {"step": state["step"], "path": str(resume_from)})
        self.notify(
            "started", {"total_steps": plan.total_steps, "steps_per_epoch": plan.steps_per_epoch, "step": state["step"]}
        )
        model.train()
        started = time.perf_counter()
        start_step = state["step"]
        while state["step"] < plan.total_steps:
            # Each rank takes every world_size-th example of a batch; a tail too short to give every
            # rank one example is dropped (single process: nothing is).
            epoch_batches = [b for b in batches.epoch(state["epoch"]) if len(b) >= self.world_size]
            windows = [
                epoch_batches[i : i + hp.gradient_accumulation_steps]
                for i in range(0, len(epoch_batches), hp.gradient_accumulation_steps)
            ]
            for index in range(state["window"], len(windows)):
                tick = time.perf_counter()
                micro = [
                    self.collate([self.train_features[i] for i in b[self.rank :: self.world_size]])
                    for b in windows[index]
                ]
                # Token counts come from the CPU tensors: no device sync for bookkeeping.
                tokens = sum(_input_tokens(b) for b in micro)
                window = _window_tokens(micro) if self.causal else 0
                micro = [_device_batch(b, accelerator.device) for b in micro]
                loss, grad_norm = self._step(accelerator, model, optimizer, micro, window, supervised)
                scheduler.step()
                state.update(step=state["step"] + 1, window=index + 1, tokens=state["tokens"] + tokens)
                step = state["step"]
                elapsed = time.perf_counter() - started
                per_step = elapsed / max(step - start_step, 1)
                record = {
                    "step": step,
                    "epoch": round(state["epoch"] + (index + 1) / len(windows), 4),
                    "loss": loss,
                    "learning_rate": scheduler.get_last_lr()[0],
                    "grad_norm": grad_norm,
                    "tokens_per_second": tokens / max(time.perf_counter() - tick, 1e-9),
                    "eta_seconds": per_step * (plan.total_steps - step),
                    "total_steps": plan.total_steps,
                }
                if step % hp.logging_steps == 0 or step == plan.total_steps:
                    self.notify("step", record)
                if self.eval_features and hp.eval_steps and (step % hp.eval_steps == 0 or step == plan.total_steps):
                    self.notify("eval", {"step": step, "epoch": record["epoch"], **self.evaluate(model, supervised)})
                if hp.save_steps and step % hp.save_steps == 0 and accelerator.is_main_process:
                    path = checkpoint.save(
                        self.output,
                        step,
                        model=raw,
                        optimizer=optimizer,
                        scheduler=scheduler,
                        state=dict(state),
                        keep=hp.save_total_limit,
                    )
                    self.notify("checkpoint", {"step": step, "path": str(path)})
                if step >= plan.total_steps:
                    break
            else:
                self.notify("epoch", {"step": state["step"], "epoch": state["epoch"] + 1})
                state.update(epoch=state["epoch"] + 1, window=0)
        if self.eval_features and not hp.eval_steps:
            self.notify("eval", {"step": state["step"], **self.evaluate(model, supervised)})
        if not supervised:  # drops what accelerate patched onto the model (autocast forward)
            self.model = accelerator.unwrap_model(model)
        return state

    def _step(
        self, accelerator: Any, model: Any, optimizer: Any, micro: list[dict[str, Any]], window: int, supervised: bool
    ) -> tuple[float, float]:
        import torch

        total = torch.zeros((), device=accelerator.device)
        for i, batch in enumerate(micro):
            batch = model_inputs(batch, causal=self.causal)
            last = i == len(micro) - 1
            sync = accelerator.no_sync(model) if not last and self.world_size > 1 else nullcontext()
            with sync, accelerator.autocast():
                if supervised:
                    loss = model(**batch, num_items_in_batch=max(window, 1))
                elif self.causal:
                    loss = model(**batch, num_items_in_batch=max(window, 1)).loss
                else:
                    loss = model(**batch).loss / len(micro)
                accelerator.backward(loss)
            total += loss.detach().float()
        max_norm = float(self.hp.extra.get("max_grad_norm", 1.0))
        norm = accelerator.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(total), float(norm)

    def evaluate(self, model: Any, supervised: bool = False) -> dict[str, float]:
        """Token-weighted eval loss (and accuracy for classifiers) over the validation split."""
        import torch

        model.eval()
        loss_sum, weight, correct = 0.0, 0, 0
        device = next(model.parameters()).device
        size = max(self.hp.batch_size, 1)
        with torch.no_grad():
            for start in range(0, len(self.eval_features), size):
                batch = _device_batch(self.collate(self.eval_features[start : start + size]), device)
                inputs = model_inputs(batch, causal=self.causal)
                if self.causal:
                    n = _window_tokens([batch])
                    loss = model(**inputs) if supervised else model(**inputs).loss
                else:
                    n = int(batch["labels"].shape[0])
                    out = model(**inputs)
                    loss = out.loss
                    correct += int((out.logits.argmax(-1) == batch["labels"]).sum())
                loss_sum += float(loss) * n
                weight += n
        model.train()
        result = {"eval_loss": loss_sum / max(weight, 1)}
        if not self.causal:
            result["eval_accuracy"] = correct / max(weight, 1)
        return result
