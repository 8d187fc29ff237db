"""``kubetune-train``: train from a run config file, with command-line overrides.

In the Job's pod (the operator mounts the config)::

    kubetune-train --config /etc/kubetune/run.json

On a workstation, with a tiny model and a few overrides::

    python -c "from kubetune.testing.tiny import make_tiny_causal_lm as m; m('/tmp/tiny')"
    kubetune-train --base-model /tmp/tiny --dataset ./train.jsonl --format openai_chat_jsonl \\
        --output /tmp/run --set hyperparameters.maxSteps=30 --set hyperparameters.learningRate=1e-3

Several processes (``distributed.processesPerNode`` x ``distributed.nodes`` > 1 in the config): the
same command starts them itself through torchrun's elastic launcher (``distributed/launch.py`` says
which environment multi-node pods need); each process then runs this module again as one rank.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kubetune.crd.exit_codes import EXIT_PERMANENT
from kubetune.crd.runconfig import RUN_CONFIG_PATH


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kubetune-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help=f"run config (JSON or YAML); in a pod: {RUN_CONFIG_PATH}")
    parser.add_argument("--base-model", help="override baseModel (uri or path)")
    parser.add_argument("--dataset", help="override dataset.uri")
    parser.add_argument("--format", help="override dataset.format")
    parser.add_argument("--output", help="override output")
    parser.add_argument("--task", help="override task")
    parser.add_argument("--method", help="override method")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any field, dotted (e.g. hyperparameters.maxSteps=30); repeatable",
    )
    parser.add_argument("--no-report", action="store_true", help="do not patch the Training's status")
    parser.add_argument("--log-level", default=os.environ.get("KUBETUNE_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def overrides(args: argparse.Namespace) -> list[str]:
    named = {
        "baseModel": args.base_model,
        "dataset.uri": args.dataset,
        "dataset.format": args.format,
        "output": args.output,
        "task": args.task,
        "method": args.method,
    }
    return [f"{k}={v}" for k, v in named.items() if v is not None] + list(args.set)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from kubetune.train import quiet

    quiet.configure(args.log_level)  # before transformers is imported: its bars read the environment
    from kubetune.crd.runconfig import Reporting
    from kubetune.train.runner import main as run_main
    from kubetune.train.runner import write_termination_log
    from kubetune.train.settings import load_config

    path = args.config
    if path is None and os.path.isfile(RUN_CONFIG_PATH):
        path = RUN_CONFIG_PATH
    try:
        config = load_config(path, overrides(args))
    except Exception as exc:  # a bad config is a failure the operator must see, not a traceback only
        logging.getLogger("kubetune.train").error("invalid configuration: %s", exc)
        write_termination_log(Reporting().termination_log, exc)
        return EXIT_PERMANENT
    from kubetune.train.distributed import launch

    if launch.needs_launch(config, os.environ):
        try:
            return launch.launch(config, list(sys.argv[1:] if argv is None else argv), os.environ)
        except ValueError as exc:  # a node index or rendezvous endpoint that cannot work
            logging.getLogger("kubetune.train").error("cannot launch: %s", exc)
            write_termination_log(config.reporting.termination_log, exc)
            return EXIT_PERMANENT
    api = None
    if not args.no_report and config.training is not None:
        from kubetune.train.kubeapi import from_environment

        try:
            api = from_environment()
        except Exception as exc:  # a broken kubeconfig must not cost the run: train without reporting
            logging.getLogger("kubetune.train").warning("status reporting disabled: %s", exc)
    return run_main(config, api)


def end_process(code: int) -> NoReturn:
    """Exit with ``code``. One of torchrun's processes skips the interpreter's teardown: its gloo
    process group can outlive ``destroy_process_group`` (objects torch keeps still hold it: under
    FSDP, DTensor's sharding caches hold the device mesh), and a gloo thread dropping its last
    reference to a finished collective's tensors while the interpreter shuts down aborts the process
    ("terminate called without an active exception"), turning a finished run into a failed one.
    Everything this program writes is closed by then."""
    from kubetune.train.distributed.launch import is_worker

    if "torch.distributed" in sys.modules and is_worker(os.environ):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def entrypoint() -> NoReturn:
    """The ``kubetune-train`` command."""
    end_process(main())


if __name__ == "__main__":
    entrypoint()
