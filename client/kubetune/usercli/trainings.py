"""train, ls, show, watch, logs, stop, resume, cancel, curve."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kubetune.api.schemas.sktai import TrainingCreate
from kubetune.usercli.output import details, render
from kubetune.usercli.progress import progress_line, sparkline
from kubetune.usercli.session import client

TRAINING_COLUMNS = ["id", "name", "status", "phase", "progress.percent", "base_model", "method", "created_at"]


class FailedError(Exception):
    """The thing itself failed (a training that ended Failed): exit code 1."""


def _value(text: str) -> Any:
    """`--param lr=3e-4` → 0.0003: JSON first (YAML 1.1 reads 3e-4 as a string), then YAML, so numbers,
    booleans and lists keep their type; anything else stays the string."""
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


def training_spec(args: argparse.Namespace) -> TrainingCreate:
    """The TrainingCreate body from a YAML file, then the flags on top (flags win)."""
    data: dict[str, Any] = {}
    if args.file is not None:
        loaded = yaml.safe_load(Path(args.file).read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.file}: expected a mapping of TrainingCreate fields")
        data.update(loaded)
    for flag, key in (("name", "name"), ("model", "base_model"), ("dataset", "dataset_id"),
                      ("trainer", "trainer_id"), ("method", "method"), ("project", "project_id"),
                      ("task", "task")):
        value = getattr(args, flag)
        if value is not None:
            data[key] = value
    params = dict(data.get("params") or {})
    for item in args.param or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {item!r}: expected KEY=VALUE")
        params[key] = _value(raw)
    if params:
        data["params"] = params
    if args.serve is not None:
        data["serve"] = args.serve
    if args.gpus is not None:
        data["resource"] = {**(data.get("resource") or {}), "gpus": args.gpus}
    try:
        return TrainingCreate.model_validate(data)
    except ValidationError as e:  # the user's input (exit 2), unlike a response that fails to parse (exit 1)
        raise ValueError(str(e)) from e


def train(args: argparse.Namespace) -> int:
    spec = training_spec(args)
    with client(args) as kt:
        created = kt.create_training(spec)
    if args.output == "table":
        print(created.id)
    else:
        print(details(created, args.output))
    return 0


def ls(args: argparse.Namespace) -> int:
    with client(args) as kt:
        print(render(kt.trainings(size=args.limit), args.output, TRAINING_COLUMNS))
    return 0


def show(args: argparse.Namespace) -> int:
    with client(args) as kt:
        print(details(kt.training(args.training), args.output))
    return 0


def watch(args: argparse.Namespace) -> int:
    """Follow the SSE stream; one redrawn line on a terminal, one line per frame otherwise."""
    tty = sys.stdout.isatty()
    phase, message = "Pending", ""
    with client(args) as kt:
        for frame in kt.follow(args.training):
            if frame.kind == "progress":
                line = progress_line(frame.data)
                print(f"\r{line}\033[K" if tty else line, end="" if tty else "\n", flush=True)
            elif frame.kind == "status":
                phase = str(frame.data.get("reason") or phase)
            elif frame.kind == "end":
                phase = str(frame.data.get("phase") or phase)
                message = str(frame.data.get("message") or "")
    if tty:
        print()
    print(f"{args.training}: {phase}" + (f" ({message})" if message else ""))
    if phase != "Succeeded":
        raise FailedError(f"training ended {phase}")
    return 0


def logs(args: argparse.Namespace) -> int:
    with client(args) as kt:
        for line in kt.logs(args.training, follow=args.follow, node=args.node, previous=args.previous,
                            tail=args.tail):
            print(line, flush=True)
    return 0


def stop(args: argparse.Namespace) -> int:
    with client(args) as kt:
        result = kt.stop_training(args.training)
    print(details(result, args.output) if args.output != "table" else f"{result.id}: stopped (suspended)")
    return 0


def resume(args: argparse.Namespace) -> int:
    with client(args) as kt:
        result = kt.resume_training(args.training)
    print(details(result, args.output) if args.output != "table" else f"{result.id}: resumed")
    return 0


def cancel(args: argparse.Namespace) -> int:
    with client(args) as kt:
        kt.cancel_training(args.training)
    print(f"{args.training}: cancelled (deleted)")
    return 0


def curve(args: argparse.Namespace) -> int:
    """The loss curve: a sparkline on the terminal, or a PNG with --png (Pillow, no plotting library)."""
    with client(args) as kt:
        training = kt.training(args.training)
        if training.numeric_id is None:
            raise FailedError(f"{args.training} has no numeric id to read its metrics by")
        data = kt.loss_curve(training.numeric_id)
    if args.output != "table":
        print(render(data, args.output, []))
        return 0
    losses = [p.loss for p in data.data if p.loss is not None]
    if args.png is not None:
        from kubetune.usercli.chart import draw_loss_curve

        draw_loss_curve([(p.step, p.loss) for p in data.data if p.loss is not None], args.png)
        print(f"wrote {args.png}")
    if losses:
        print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}  {sparkline(losses)}")
    else:
        print("no loss reported yet")
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    t = sub.add_parser("train", parents=[common], help="submit a training; prints its id")
    t.add_argument("-f", "--file", type=Path, help="YAML with TrainingCreate fields (flags override)")
    t.add_argument("--name")
    t.add_argument("--model", help="base model: catalog id, hub name or uri")
    t.add_argument("--dataset", help="dataset id or name")
    t.add_argument("--trainer", help="Trainer (template) id")
    t.add_argument("--method", choices=["lora", "qlora", "full"])
    t.add_argument("--task", choices=["causal-lm", "sequence-classification", "image-classification"])
    t.add_argument("--project", help="project key or id (default: your default project)")
    t.add_argument("--param", "-p", action="append", metavar="KEY=VALUE", help="a hyperparameter (repeatable)")
    t.add_argument("--gpus", type=int)
    t.add_argument("--serve", action=argparse.BooleanOptionalAction, default=None,
                   help="serve the result when done (default: the platform's setting)")
    t.set_defaults(func=train)

    p = sub.add_parser("ls", parents=[common], help="list trainings")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=ls)
    for name, func, text in (("show", show, "one training"), ("watch", watch, "follow a training live until it ends"),
                             ("stop", stop, "stop (suspend) a training; resume continues it"),
                             ("resume", resume, "resume a stopped training"),
                             ("cancel", cancel, "cancel a training: deletes it and its pods")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("training", help="training id")
        p.set_defaults(func=func)
    p = sub.add_parser("logs", parents=[common], help="a training's pod log")
    p.add_argument("training", help="training id")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    p.add_argument("--node", type=int, help="the pod of this node (completion index) of a multi-node run")
    p.add_argument("--previous", action="store_true", help="the log of the container before its last restart")
    p.add_argument("--tail", type=int, help="only the last N lines")
    p.set_defaults(func=logs)
    p = sub.add_parser("curve", parents=[common], help="the loss curve: sparkline, or --png FILE")
    p.add_argument("training", help="training id")
    p.add_argument("--png", type=Path)
    p.set_defaults(func=curve)
