"""The training loop: a lean loop on torch (see docs/trainer.md for why not Trainer).

It owns the data order (seeded per epoch), gradient accumulation with loss
normalised by the tokens of the whole accumulation window (of all ranks), the LR
schedule, evaluation, checkpoints and the SIGTERM stop. Several processes
(``distributed/``) each take every world_size-th example of a global batch;
DDP or FSDP2 keep their gradients equal. Everything it has to say goes through
``notify`` (kind, record), so reporting never blocks or shapes the loop.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import RunDistributed, RunHyperparameters
from kubetune.train import checkpoint
from kubetune.train.data import Batches
from kubetune.train.distributed.failures import PermanentError, Stopped
from kubetune.train.distributed.gpu_readings import GpuReadings
from kubetune.train.distributed.stop import StopRequest
from kubetune.train.distributed.strategy import Prepared, full_state_dict, prepare
from kubetune.train.distributed.world import World
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
    world: World = field(default_factory=World)
    distributed: RunDistributed = field(default_factory=RunDistributed)
    stop: StopRequest = field(default_factory=StopRequest)
    prepared: Prepared | None = None
    gpus: GpuReadings | None = None  # every node's GPU readings for rank 0's status (multi-process runs)

    @property
    def world_size(self) -> int:
        return self.world.world_size

    @property
    def rank(self) -> int:
        return self.world.rank

    def uses_supervised_loss(self) -> bool:
        """Causal LMs whose head allows it compute logits only where labels carry (lm_loss.py);
        ``hyperparameters.extra.supervised_loss: false`` keeps the model's own forward."""
        wanted = bool(self.hp.extra.get("supervised_loss", True))
        return self.causal and wanted and supports_supervised_loss(self.model)

    def run(self, resume_from: Path | None = None) -> dict[str, Any]:
        """Train to the planned step; returns the final loop state. Raises ``Stopped`` after a SIGTERM."""
        import torch
        from transformers import get_scheduler

        hp, world = self.hp, self.world
        random.seed(hp.seed)
        torch.manual_seed(hp.seed)
        global_batch = hp.batch_size * world.world_size
        batches = Batches(len(self.train_features), global_batch, hp.seed)
        shared = batches.shared_by(world.world_size)
        if shared == 0:
            # Without this, every epoch would be empty and the loop would spin at step 0 for ever.
            raise PermanentError(
                f"the training split has {len(self.train_features)} sequences (after packing, when it is on), "
                f"fewer than the {world.world_size} processes of this run, and each process needs one per step: "
                "add examples, set packing to false, or run fewer processes")
        plan = make_plan(shared, hp)
        supervised = self.uses_supervised_loss()
        # The loss module wraps the model, so that DDP/FSDP see the forward that actually runs.
        loss_module = supervised_loss(self.model) if supervised else self.model
        self.prepared = prepared = prepare(self.model, loss_module, self.distributed, world)
        model = prepared.module
        raw = self.model  # the weights to checkpoint, by their own names (no wrapper's prefix)
        optimizer = _optimizer(model, hp)
        scheduler = get_scheduler(
            hp.lr_scheduler, optimizer, num_warmup_steps=plan.warmup_steps, num_training_steps=plan.total_steps
        )
        state: dict[str, Any] = {"step": 0, "epoch": 0, "window": 0, "tokens": 0, "global_batch": global_batch}

        def save(state: dict[str, Any]) -> None:
            path = checkpoint.save(
                self.output,
                state["step"],
                model=raw,
                optimizer=optimizer,
                scheduler=scheduler,
                state=dict(state),
                keep=hp.save_total_limit,
                world=world,
            )
            self.notify("checkpoint", {"step": state["step"], "path": str(path)})

        if resume_from is not None:
            state = checkpoint.load(resume_from, model=raw, optimizer=optimizer, scheduler=scheduler, world=world)
            state = _rebatched(state, global_batch, hp.gradient_accumulation_steps)
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
            epoch_batches = [b for b in batches.epoch(state["epoch"]) if len(b) >= world.world_size]
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
                # Token counts come from the CPU tensors: no device sync for bookkeeping. The loss is
                # normalised by the window's tokens on all ranks, so N ranks step like one process.
                tokens = sum(_input_tokens(b) for b in micro)
                window = _window_tokens(micro) if self.causal else 0
                if self.causal and world.distributed:
                    window = int(world.sum([float(window)])[0])
                micro = [_device_batch(b, prepared.device) for b in micro]
                loss, grad_norm = self._step(prepared, optimizer, micro, window, supervised)
                scheduler.step()
                # One collective per step: the whole job's loss and tokens, and whether any rank was asked to stop.
                # Rank 0 also says there whether a gather of every node's GPU readings is due.
                due = self.gpus.due_flag() if self.gpus is not None else 0.0
                loss_sum, tokens_all, stops, gather = world.sum(
                    [loss, float(tokens), float(self.stop.requested), due]
                )
                if gather > 0 and self.gpus is not None:
                    self.gpus.collect()
                loss = loss_sum if self.causal else loss_sum / world.world_size
                state.update(step=state["step"] + 1, window=index + 1, tokens=state["tokens"] + int(tokens_all))
                step = state["step"]
                elapsed = time.perf_counter() - started
                per_step = elapsed / max(step - start_step, 1)
                record = {
                    "step": step,
                    "epoch": round(state["epoch"] + (index + 1) / len(windows), 4),
                    "loss": loss,
                    "learning_rate": scheduler.get_last_lr()[0],
                    "grad_norm": grad_norm,
                    "tokens_per_second": tokens_all / max(time.perf_counter() - tick, 1e-9),
                    "tokens": state["tokens"],  # trained on so far by all ranks (kept across resumes)
                    "eta_seconds": per_step * (plan.total_steps - step),
                    "total_steps": plan.total_steps,
                }
                if step % hp.logging_steps == 0 or step == plan.total_steps:
                    self.notify("step", record)
                if self.eval_features and hp.eval_steps and (step % hp.eval_steps == 0 or step == plan.total_steps):
                    self.notify("eval", {"step": step, "epoch": record["epoch"], **self.evaluate(model, supervised)})
                saved = bool(hp.save_steps and step % hp.save_steps == 0)
                if saved:
                    save(state)
                if stops > 0:
                    if not saved:
                        save(state)
                    raise Stopped(step)
                if step >= plan.total_steps:
                    break
            else:
                self.notify("epoch", {"step": state["step"], "epoch": state["epoch"] + 1})
                state.update(epoch=state["epoch"] + 1, window=0)
        if self.eval_features and not hp.eval_steps:
            self.notify("eval", {"step": state["step"], **self.evaluate(model, supervised)})
        return state

    def full_state(self) -> dict[str, Any] | None:
        """The whole model's weights for saving (a collective under FSDP; None: save the module itself)."""
        assert self.prepared is not None
        return full_state_dict(self.model, self.prepared)

    def _step(
        self, prepared: Prepared, optimizer: Any, micro: list[dict[str, Any]], window: int, supervised: bool
    ) -> tuple[float, float]:
        import torch

        model = prepared.module
        # DDP and FSDP average gradients over ranks; each rank's loss is its share of the window's
        # token sum, so scaling by the world size makes the average the sum (single process: 1).
        scale = self.world_size if self.causal else 1
        total = torch.zeros((), device=prepared.device)
        for i, batch in enumerate(micro):
            batch = model_inputs(batch, causal=self.causal)
            with prepared.accumulating(sync=i == len(micro) - 1), prepared.autocast():
                if supervised:
                    loss = model(**batch, num_items_in_batch=max(window, 1))
                elif self.causal:
                    loss = model(**batch, num_items_in_batch=max(window, 1)).loss
                else:
                    loss = model(**batch).loss / len(micro)
                (loss * scale).backward()
            total += loss.detach().float()
        norm = prepared.clip_grad_norm(float(self.hp.extra.get("max_grad_norm", 1.0)))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(total), norm

    def evaluate(self, model: Any, supervised: bool = False) -> dict[str, float]:
        """Token-weighted eval loss (and accuracy for classifiers) over the validation split."""
        import torch

        model.eval()
        loss_sum, weight, correct = 0.0, 0, 0
        # Every rank evaluates the whole split: FSDP ranks must run the same forwards, and DDP replicas
        # agree anyway; the split is small next to training.
        device = self.prepared.device if self.prepared else next(model.parameters()).device
        autocast = self.prepared.autocast if self.prepared else nullcontext
        size = max(self.hp.batch_size, 1)
        with torch.no_grad(), autocast():
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


def _rebatched(state: dict[str, Any], global_batch: int, accumulation: int) -> dict[str, Any]:
    """The data position of a checkpoint written with another global batch (another world size):
    the same examples of the epoch count as seen; a partly seen window is taken again whole."""
    saved_batch = int(state.get("global_batch", global_batch))
    if saved_batch != global_batch:
        seen = state["window"] * accumulation * saved_batch
        state["window"] = seen // (accumulation * global_batch)
    state["global_batch"] = global_batch
    return state
