"""The DPO training loop: one process, the supervised loop's data order, schedule and checkpoints.

Each optimizer step takes ``gradient_accumulation_steps`` micro-batches of ``batch_size`` pairs; the
loss is the mean over the window's pairs. It notifies the same kinds as ``kubetune.train.loop.Loop``
(started, step, eval, checkpoint, epoch, resumed), so the runner's reporting is shared; step records
carry rewards/chosen, rewards/rejected, rewards/margin and rewards/accuracy beside the loss.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from kubetune.crd.runconfig import RunHyperparameters
from kubetune.train import checkpoint
from kubetune.train.data import Batches
from kubetune.train.distributed.failures import Stopped
from kubetune.train.distributed.stop import StopRequest
from kubetune.train.dpo import reference
from kubetune.train.dpo.loss import DpoOutput, dpo_loss, reward_metrics, sequence_logps
from kubetune.train.dpo.pairs import Pair, batch_tokens, collate_pairs
from kubetune.train.loop import make_plan

Notify = Callable[[str, dict[str, Any]], None]


def _optimizer(model: Any, hp: RunHyperparameters) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": hp.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=hp.learning_rate)


@dataclass
class DpoLoop:
    """One DPO run's loop; ``run`` returns the final loop state (as ``Loop.run`` does)."""

    model: Any
    train_pairs: list[Pair]
    eval_pairs: list[Pair]
    hp: RunHyperparameters
    output: Path
    notify: Notify
    pad_id: int = 0
    packed: bool = True
    fresh_adapter: bool = True
    device: Any = None
    stop: StopRequest = field(default_factory=StopRequest)
    scores: dict[str, Any] = field(default_factory=dict)

    def _collate(self, pairs: list[Pair]) -> dict[str, Any]:
        return collate_pairs(pairs, self.pad_id, packed=self.packed, max_length=2 * self.hp.max_seq_length)

    def _autocast(self) -> Any:
        import torch

        if self.device is not None and self.device.type == "cuda" and torch.cuda.is_bf16_supported():
            return partial(torch.autocast, "cuda", dtype=torch.bfloat16)
        return nullcontext

    def _loss(self, batch: dict[str, Any], ref: dict[str, Any], index: Any) -> DpoOutput:
        n = int(index.numel())
        logps, counts = sequence_logps(self.model, batch, 2 * n)
        return dpo_loss(
            logps[:n],
            logps[n:],
            ref["chosen"][index].to(logps.device),
            ref["rejected"][index].to(logps.device),
            beta=self.hp.beta,
            label_smoothing=self.hp.label_smoothing,
            loss_type=self.hp.dpo_loss,
            chosen_tokens=counts[:n],
            rejected_tokens=counts[n:],
        )

    def score_reference(self, resuming: bool) -> None:
        """The reference's log-probs of both splits (see ``reference``), computed or read back."""
        autocast = self._autocast()

        def compute() -> dict[str, Any]:
            run = partial(
                reference.score,
                self.model,
                collate=self._collate,
                batch_size=max(self.hp.batch_size, 1),
                device=self.device,
                autocast=autocast,
                fresh_adapter=self.fresh_adapter,
            )
            return {"train": run(self.train_pairs), "eval": run(self.eval_pairs)}

        sizes = {"train": len(self.train_pairs), "eval": len(self.eval_pairs)}
        self.scores = reference.load_or_score(self.output / reference.REFERENCE_FILE, sizes, compute, resuming=resuming)

    def run(self, resume_from: Path | None = None) -> dict[str, Any]:
        import torch
        from transformers import get_scheduler

        hp = self.hp
        self.device = self.device or next(self.model.parameters()).device
        random.seed(hp.seed)
        torch.manual_seed(hp.seed)
        batches = Batches(len(self.train_pairs), hp.batch_size, hp.seed)
        plan = make_plan(len(batches), hp)
        optimizer = _optimizer(self.model, hp)
        scheduler = get_scheduler(
            hp.lr_scheduler, optimizer, num_warmup_steps=plan.warmup_steps, num_training_steps=plan.total_steps
        )
        state: dict[str, Any] = {"step": 0, "epoch": 0, "window": 0, "tokens": 0}
        if resume_from is not None:
            state = checkpoint.load(resume_from, model=self.model, optimizer=optimizer, scheduler=scheduler)
            self.notify("resumed", {"step": state["step"], "path": str(resume_from)})
        self.score_reference(resuming=resume_from is not None)
        self.notify(
            "started", {"total_steps": plan.total_steps, "steps_per_epoch": plan.steps_per_epoch, "step": state["step"]}
        )
        autocast = self._autocast()
        self.model.train()
        started, start_step = time.perf_counter(), state["step"]
        while state["step"] < plan.total_steps:
            epoch_batches = batches.epoch(state["epoch"])
            windows = [
                epoch_batches[i : i + hp.gradient_accumulation_steps]
                for i in range(0, len(epoch_batches), hp.gradient_accumulation_steps)
            ]
            for index in range(state["window"], len(windows)):
                tick = time.perf_counter()
                pairs = sum(len(b) for b in windows[index])
                totals = {
                    "loss": 0.0,
                    "rewards/chosen": 0.0,
                    "rewards/rejected": 0.0,
                    "rewards/margin": 0.0,
                    "rewards/accuracy": 0.0,
                }
                tokens = 0
                for micro in windows[index]:
                    batch = self._collate([self.train_pairs[i] for i in micro])
                    tokens += batch_tokens(batch)
                    batch = {k: v.to(self.device) for k, v in batch.items()}
                    with autocast():
                        out = self._loss(batch, self.scores["train"], torch.tensor(micro))
                        loss = out.losses.sum() / pairs
                    loss.backward()
                    totals["loss"] += float(loss.detach())
                    for key, value in reward_metrics(out).items():
                        totals[key] += value * len(micro) / pairs
                trainable = [p for p in self.model.parameters() if p.requires_grad]
                norm = torch.nn.utils.clip_grad_norm_(trainable, float(hp.extra.get("max_grad_norm", 1.0)))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                state.update(step=state["step"] + 1, window=index + 1, tokens=state["tokens"] + tokens)
                step = state["step"]
                per_step = (time.perf_counter() - started) / max(step - start_step, 1)
                record = {
                    "step": step,
                    "epoch": round(state["epoch"] + (index + 1) / len(windows), 4),
                    **totals,
                    "learning_rate": scheduler.get_last_lr()[0],
                    "grad_norm": float(norm),
                    "tokens_per_second": tokens / max(time.perf_counter() - tick, 1e-9),
                    "eta_seconds": per_step * (plan.total_steps - step),
                    "total_steps": plan.total_steps,
                }
                if step % hp.logging_steps == 0 or step == plan.total_steps:
                    self.notify("step", record)
                if self.eval_pairs and hp.eval_steps and (step % hp.eval_steps == 0 or step == plan.total_steps):
                    self.notify("eval", {"step": step, "epoch": record["epoch"], **self.evaluate()})
                saved = bool(hp.save_steps and step % hp.save_steps == 0)
                if saved or self.stop.requested:  # SIGTERM: finish the step, checkpoint, end (exit 143)
                    path = checkpoint.save(
                        self.output,
                        step,
                        model=self.model,
                        optimizer=optimizer,
                        scheduler=scheduler,
                        state=dict(state),
                        keep=hp.save_total_limit,
                    )
                    self.notify("checkpoint", {"step": step, "path": str(path)})
                if self.stop.requested:
                    raise Stopped(step)
                if step >= plan.total_steps:
                    break
            else:
                self.notify("epoch", {"step": state["step"], "epoch": state["epoch"] + 1})
                state.update(epoch=state["epoch"] + 1, window=0)
        if self.eval_pairs and not hp.eval_steps:
            self.notify("eval", {"step": state["step"], **self.evaluate()})
        return state

    def evaluate(self) -> dict[str, float]:
        """Loss and rewards over the held-out pairs (eval_loss, eval_rewards/...)."""
        import torch

        if not self.scores:
            self.device = self.device or next(self.model.parameters()).device
            self.score_reference(resuming=False)
        was_training = self.model.training
        self.model.eval()
        sums: dict[str, float] = {}
        size = max(self.hp.batch_size, 1)
        with torch.no_grad(), self._autocast()():
            for start in range(0, len(self.eval_pairs), size):
                index = torch.arange(start, min(start + size, len(self.eval_pairs)))
                batch = {k: v.to(self.device) for k, v in self._collate(self.eval_pairs[start : start + size]).items()}
                out = self._loss(batch, self.scores["eval"], index)
                n = int(index.numel())
                for key, value in {"loss": float(out.losses.mean()), **reward_metrics(out)}.items():
                    sums[key] = sums.get(key, 0.0) + value * n
        self.model.train(was_training)
        total = max(len(self.eval_pairs), 1)
        return {f"eval_{key}": value / total for key, value in sums.items()}

    def full_state(self) -> dict[str, Any] | None:
        """One process: the model saves itself (the runner's interface)."""
        return None
