"""``main(config)``: validate, load, train, save, report. The CLI only parses arguments."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

from kubetune.crd import display
from kubetune.crd.bounds import bounded_metrics
from kubetune.crd.exit_codes import EXIT_OK, EXIT_PERMANENT, EXIT_STOPPED
from kubetune.crd.runconfig import TrainRunConfig
from kubetune.formats import DatasetError
from kubetune.train import checkpoint, data, modeling, outputs, tracking, uris, validate
from kubetune.train.distributed import failures
from kubetune.train.distributed.gpu_readings import GpuReadings
from kubetune.train.distributed.stop import StopRequest
from kubetune.train.distributed.world import World, env_rank, init_world
from kubetune.train.gpu import GpuProbe
from kubetune.train.loop import Loop
from kubetune.train.metrics import MetricsTracker
from kubetune.train.reporter import StatusApi, StatusReporter
from kubetune.train.tracking import tensorboard as tracking_tensorboard

log = logging.getLogger("kubetune.train")
PROGRESS_KEYS = {"total_steps", "eta_seconds"}


@dataclass
class RunResult:
    """What a finished run produced."""

    output: Path
    model_path: Path
    state: dict[str, Any]
    summary: dict[str, Any]
    metrics: dict[str, float]
    losses: list[float] = field(default_factory=list)


def _camel(d: dict[str, Any]) -> dict[str, Any]:
    return {to_camel(k): v for k, v in d.items() if v is not None}


class Progress:
    """Turns loop notifications into the metric log, log lines, status patches and Events."""

    def __init__(
        self, config: TrainRunConfig, tracker: MetricsTracker, reporter: StatusReporter | None, *, quiet: bool = False
    ) -> None:
        self.config, self.tracker, self.reporter = config, tracker, reporter
        self.quiet = quiet  # ranks other than 0 only keep their losses: no logs, uploads or Events
        self.checkpoints: list[dict[str, Any]] = []
        # Writes a checkpoint's weights as a loadable adapter or model inside its directory.
        self.save_servable: Callable[[Path], Any] | None = None
        self.losses: list[float] = []
        self._history_at = -float("inf")

    def __call__(self, kind: str, record: dict[str, Any]) -> None:
        if self.quiet:
            if kind == "step":
                self.losses.append(record["loss"])
            return
        if kind == "step":
            self.losses.append(record["loss"])
            self.tracker.record({k: v for k, v in record.items() if k not in PROGRESS_KEYS})
            log.info(
                "step %d/%d loss %.4f lr %.3g",
                record["step"],
                record["total_steps"],
                record["loss"],
                record["learning_rate"],
            )
            self._report(record)
        elif kind == "eval":
            self.tracker.record(record)
            log.info("eval at step %d: %s", record["step"], record)
            self._event("EvalDone", f"step {record['step']}: eval_loss {record['eval_loss']:.4f}")
            self._report(None, urgent=True)
        elif kind == "checkpoint":
            name = Path(record["path"]).name
            self.checkpoints.append(
                {
                    "step": record["step"],
                    "uri": uris.child_uri(self.config.output, "checkpoints", name),
                    "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
            keep = self.config.hyperparameters.save_total_limit
            self.checkpoints = self.checkpoints[-min(keep, 50) :]
            if self.save_servable is not None:  # the checkpoint as a model (training://<name>/checkpoints/<step>)
                self.save_servable(Path(record["path"]))
            # s3:// only (local outputs are in place): the new checkpoint, the metric log, and pruning.
            uris.upload_checkpoints(Path(record["path"]).parents[1], self.config.output)
            self._event("CheckpointSaved", f"step {record['step']} -> {self.checkpoints[-1]['uri']}")
            if self.reporter:
                self.reporter.update({"checkpoints": list(self.checkpoints)}, urgent=True)
        elif kind == "started":
            self._event("TrainingStarted", f"{record['total_steps']} steps planned, from step {record['step']}")
        elif kind == "resumed":
            self._event("Resumed", f"from step {record['step']}")
        elif kind == "epoch":
            self._event("EpochDone", f"epoch {record['epoch']} done at step {record['step']}")

    def _event(self, reason: str, message: str, *, warning: bool = False) -> None:
        log.info("%s: %s", reason, message)
        if self.reporter:
            self.reporter.event(reason, message, warning=warning)

    def _report(self, record: dict[str, Any] | None, *, urgent: bool = False) -> None:
        if self.reporter is None:
            return
        fields: dict[str, Any] = {}
        if record is not None:
            total = record["total_steps"]
            fields["progress"] = _camel(
                {
                    "step": record["step"],
                    "total_steps": total,
                    "epoch": record["epoch"],
                    "percent": display.percent(min(100.0, 100.0 * record["step"] / max(total, 1))),
                    "eta_seconds": max(record["eta_seconds"], 0.0),
                    "tokens_per_second": max(record["tokens_per_second"], 0.0),
                    "tokens": record.get("tokens"),
                    "steps": display.steps(record["step"], total),
                    "eta": display.duration(record["eta_seconds"]),
                    "loss": display.loss(self.tracker.latest.get("loss")),
                }
            )
        fields["metrics"] = bounded_metrics(self.tracker.latest)  # the CRD refuses a larger map
        # The history is rebuilt at most twice per reporting interval: O(steps) work kept off most steps.
        now = time.monotonic()
        if urgent or now - self._history_at >= self.config.reporting.interval_seconds / 2:
            self._history_at = now
            fields["history"] = [_camel(p) for p in self.tracker.history(self.config.reporting.history_points)]
            fields["summary"] = _camel(self.tracker.summary())
        self.reporter.update(fields, urgent=urgent)

    def finish(self, output_uri: str) -> None:
        self._report(None, urgent=True)
        if self.reporter:
            self.reporter.update(
                {"output": output_uri, "metricsLog": uris.child_uri(self.config.output, outputs.METRICS_LOG)},
                urgent=True,
            )
        self._event("TrainingFinished", f"output at {output_uri}")


def make_collate(config: TrainRunConfig, loaded: modeling.Loaded) -> Any:
    """How batches become tensors. Causal LMs whose attention keeps packed examples apart
    (``modeling.PACKED_ROW_MODEL_TYPES``) get each batch's examples packed into as
    few rows as fit (``data.pack_batch``): the same examples and loss as padding, less padding.
    ``hyperparameters.extra.padding_free: false`` pads instead."""
    pad_id = getattr(loaded.processor, "pad_token_id", None) or 0
    hp = config.hyperparameters
    if (
        config.task == "causal-lm"
        and bool(hp.extra.get("padding_free", True))
        and modeling.supports_packed_rows(loaded.model)
    ):
        return partial(data.collate_packed, pad_id=pad_id, max_length=hp.max_seq_length)
    return partial(data.collate, pad_id=pad_id)


def prepare_features(
    config: TrainRunConfig, loaded: modeling.Loaded, splits: data.Splits
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Encode both splits for the task (packing the training split when asked)."""
    hp = config.hyperparameters
    if config.objective == "dpo":  # preference pairs (kubetune.train.dpo)
        from kubetune.train.dpo.setup import features

        return features(config, loaded.processor, splits.train, splits.validation)
    if config.task == "causal-lm":
        from kubetune.train.chat_tokens import ensure_chat_template

        ensure_chat_template(loaded.processor)
        encode = partial(
            data.encode_chats,
            dataset=config.dataset,
            tokenizer=loaded.processor,
            max_length=hp.max_seq_length,
            train_on_inputs=hp.train_on_inputs,
        )
        train, validation = encode(splits.train), encode(splits.validation) if splits.validation else []
        if not train:
            raise DatasetError("no training example has a completion token left within maxSeqLength")
        if hp.packing:
            train = data.pack(train, hp.max_seq_length)
        return train, validation
    assert loaded.label2id is not None
    if config.task == "sequence-classification":
        return (
            data.encode_texts(splits.train, loaded.processor, loaded.label2id, max_length=hp.max_seq_length),
            data.encode_texts(splits.validation, loaded.processor, loaded.label2id, max_length=hp.max_seq_length),
        )
    return (
        data.encode_images(splits.train, loaded.processor, loaded.label2id, splits.root),
        data.encode_images(splits.validation, loaded.processor, loaded.label2id, splits.root),
    )


def _prepare(
    config: TrainRunConfig,
) -> tuple[Path, modeling.Loaded, list[dict[str, Any]], list[dict[str, Any]]]:
    """Everything before training: cheap checks first, then weights and data. Input errors raised
    here are permanent (``failures.preparing``): no retry can fix them."""
    hp = config.hyperparameters
    with failures.preparing():
        # Validate everything cheap before loading weights: model reachable, data parses, method possible.
        model_dir = uris.resolve(config.base_model)
        validate.check(config, model_dir)
        if config.method == "qlora" and (reason := modeling.qlora_available()):
            raise failures.PermanentError(reason)
        splits = data.load_splits(config.dataset, hp.seed)
        labels = data.label_set(splits.train) if config.task != "causal-lm" else None
        if labels is not None and len(labels) < 2:
            raise DatasetError(f"classification needs at least two labels, found {labels}")

        import torch

        torch.manual_seed(hp.seed)
        loaded = modeling.load(config, model_dir, labels)
        train, validation = prepare_features(config, loaded, splits)
    return model_dir, loaded, train, validation


def run(
    config: TrainRunConfig,
    reporter: StatusReporter | None = None,
    stop: StopRequest | None = None,
    gpus: GpuReadings | None = None,
) -> RunResult:
    """One training run end to end (one rank of it under torchrun); raises on failure (the caller reports it).
    ``gpus``: the GPU readings the reporter sends; with several processes the loop gathers every node's."""
    # Collectives wait this long for a slow peer (rank 0 uploading a checkpoint) before failing.
    world = init_world(max(1800.0, config.distributed.rendezvous_timeout_seconds))
    try:
        return _run(config, reporter, world, stop or StopRequest(), gpus)
    finally:
        world.close()


def _run(
    config: TrainRunConfig, reporter: StatusReporter | None, world: World, stop: StopRequest, gpus: GpuReadings | None
) -> RunResult:
    hp = config.hyperparameters
    output = uris.output_dir(config.output, config.resume)
    output.mkdir(parents=True, exist_ok=True)
    _, loaded, train, validation = _prepare(config)
    resume = checkpoint.find(output, config.resume)
    # Every rank runs this; only rank 0 logs, reports and writes outputs (other ranks never PATCH).
    main_process = world.is_main
    reporter = reporter if main_process else None
    tracker = MetricsTracker(output / outputs.METRICS_LOG if main_process else None)
    if resume is not None:
        tracker.restore(int(resume.name.removeprefix(checkpoint.PREFIX)))
    elif main_process:
        (output / outputs.METRICS_LOG).unlink(missing_ok=True)
    progress = Progress(config, tracker, reporter, quiet=not main_process)
    live = tracking.start_live(config, output, reporter) if main_process else None  # MLflow while it runs
    if live is not None:
        tracker.on_record = live.record
    if resume is not None:
        progress.checkpoints = [
            {"step": step, "uri": uris.child_uri(config.output, "checkpoints", path.name)}
            for step, path in checkpoint.list_checkpoints(output)
            if step <= int(resume.name.removeprefix("step-"))
        ]
    loop: Any
    if config.objective == "dpo":
        from kubetune.train.dpo.setup import build_loop

        loop = build_loop(config, loaded, train, validation, output, progress, stop)
    else:
        if gpus is not None:
            gpus.attach(world)
        loop = Loop(
            model=loaded.model,
            train_features=train,
            eval_features=validation,
            collate=make_collate(config, loaded),
            hp=hp,
            causal=config.task == "causal-lm",
            output=output,
            notify=progress,
            world=world,
            distributed=config.distributed,
            stop=stop,
            gpus=gpus,
        )
    if config.distributed.strategy != "fsdp":  # FSDP shards the weights: its checkpoints are for resuming only
        progress.save_servable = partial(outputs.save_model, loop.model, loaded.processor, config)
    try:
        state = loop.run(resume)
    except BaseException:
        if live is not None:
            live.abort()  # the MLflow run ends FAILED, not RUNNING forever
        raise
    full_state = loop.full_state()  # a collective under FSDP: every rank joins, rank 0 keeps it
    if not main_process:
        return RunResult(output, output, state, tracker.summary(), dict(tracker.latest), progress.losses)
    model_path = outputs.save_model(loop.model, loaded.processor, config, output, state_dict=full_state)
    # Counted before a merge: merge_and_unload folds the adapter into the base model in place, after
    # which nothing is trainable and the LoRA parameters are gone from the count.
    trainable = modeling.trainable_parameters(loop.model)
    if config.method != "full" and bool(hp.extra.get("merge", False)):
        if full_state is not None:
            log.warning("merge: skipped under FSDP (the adapter is saved; merge it with one process)")
        else:
            outputs.save_merged(loop.model, loaded.processor, output)
    summary = tracker.summary()
    if full_state is not None:  # sharded parameters count their local shard only
        trainable = (trainable[0] * world.world_size, sum(t.numel() for t in full_state.values()))
    (output / outputs.MODEL_CARD).write_text(outputs.model_card(config, summary, tracker.latest, trainable))
    tracking_tensorboard.write_for(config, output, output / outputs.METRICS_LOG)  # before the upload
    uris.upload_dir(output, config.output)
    output_uri = uris.child_uri(config.output, model_path.name)
    tracking.track(config, output, model_path, reporter, live)  # spec.tracking: MLflow, before the final status
    progress.finish(output_uri)
    return RunResult(
        output=output,
        model_path=model_path,
        state=state,
        summary=summary,
        metrics=dict(tracker.latest),
        losses=progress.losses,
    )


def make_reporter(
    config: TrainRunConfig, api: StatusApi | None, gpus: GpuReadings | None = None
) -> StatusReporter | None:
    """A reporter when the config names a Training and the API is reachable by configuration."""
    if config.training is None or api is None:
        return None
    gpus = gpus or GpuReadings(GpuProbe().readings, interval=config.reporting.interval_seconds)
    return StatusReporter(
        api,
        config.training.namespace,
        config.training.name,
        uid=config.training.uid,
        interval=config.reporting.interval_seconds,
        extra_fields=gpus.status_fields,
    )


# A node that runs containers without a mount namespace (the local development node)
# tells the program where the pod's terminationMessagePath really is.
TERMINATION_PATH_ENV = "KUBETUNE_TERMINATION_MESSAGE_PATH"


def write_termination_log(path: str, error: BaseException) -> None:
    """One line saying why the run failed, where the kubelet picks it up."""
    line = f"{type(error).__name__}: {error}".replace("\n", " ")[:1000]
    path = os.environ.get(TERMINATION_PATH_ENV) or path
    try:
        Path(path).write_text(line + "\n")
    except OSError:
        log.warning("cannot write termination log %s", path)


def main(config: TrainRunConfig, api: StatusApi | None = None) -> int:
    """Run, report and return the exit code (``kubetune.crd.exit_codes``); failures go to the termination log."""
    # Every node's first process reads its GPUs for rank 0; rank 0 asks for them only when it reports.
    gpus: GpuReadings | None = GpuReadings(GpuProbe().readings, interval=config.reporting.interval_seconds)
    reporter = make_reporter(config, api, gpus) if env_rank()[0] == 0 else None
    if env_rank()[0] == 0 and reporter is None:
        gpus = None
    try:
        with StopRequest() as stop:
            result = run(config, reporter, stop, gpus)
        if env_rank()[0] == 0:  # the other ranks wrote nothing and know no summary
            log.info("done: %s (final loss %s)", result.model_path, result.summary.get("final_loss"))
        return EXIT_OK
    except failures.Stopped as stopped:
        log.info("%s", stopped)
        if reporter:
            reporter.event("TrainingStopped", str(stopped))
        return EXIT_STOPPED
    except Exception as exc:
        code = failures.exit_code(exc)
        log.exception(
            "training failed (exit code %d, %s)", code, "permanent" if code == EXIT_PERMANENT else "transient"
        )
        write_termination_log(config.reporting.termination_log, exc)
        if reporter:
            reporter.event("TrainingFailed", f"{type(exc).__name__}: {exc}", warning=True)
        return code
    finally:
        if reporter and not reporter.close(timeout=15.0):
            log.warning("some status updates could not be delivered")
