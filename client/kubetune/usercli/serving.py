"""serve, services, chat (interactive, streamed through the gateway's /v1/chat/completions)."""

from __future__ import annotations

import argparse

from kubetune.usercli.output import details, render
from kubetune.usercli.session import client

SERVICE_COLUMNS = ["name", "phase", "training", "base_model", "ready_replicas", "replicas"]


def serve(args: argparse.Namespace) -> int:
    if not args.training and not args.base_model:
        raise ValueError("serve needs --training or --base-model")
    with client(args) as kt:
        made = kt.serve(args.project, args.name, training=args.training, base_model=args.base_model)
    print(details(made, args.output) if args.output != "table" else f"{made.name}: {made.phase}")
    return 0


def services(args: argparse.Namespace) -> int:
    with client(args) as kt:
        print(render(kt.services(args.project), args.output, SERVICE_COLUMNS))
    return 0


def chat(args: argparse.Namespace) -> int:
    """A conversation: each line you type is a user turn; the answer streams as it is generated.
    An empty line or end of input (Ctrl-D) ends it; the history is sent with every turn."""
    messages = [{"role": "system", "content": args.system}] if args.system else []
    with client(args) as kt:
        while True:
            try:
                text = input("you> ")
            except EOFError:
                print()
                return 0
            if not text.strip():
                return 0
            messages.append({"role": "user", "content": text})
            print("model> ", end="", flush=True)
            answer = []
            for delta in kt.chat(args.model, messages, max_tokens=args.max_tokens, temperature=args.temperature):
                answer.append(delta)
                print(delta, end="", flush=True)
            print()
            messages.append({"role": "assistant", "content": "".join(answer)})


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve a training's output or a base model")
    p.add_argument("name", help="the InferenceService's name")
    p.add_argument("--project", required=True, help="project key or id")
    p.add_argument("--training", help="a Training of the project, by name or numeric id")
    p.add_argument("--base-model", help="a model uri or catalog id")
    p.set_defaults(func=serve)
    p = sub.add_parser("services", parents=[common], help="list a project's inference services")
    p.add_argument("--project", required=True, help="project key or id")
    p.set_defaults(func=services)
    p = sub.add_parser("chat", parents=[common], help="chat with a served model, streamed")
    p.add_argument("model", help="an InferenceService name (project/name), an ft: model id, or a served base model")
    p.add_argument("--system", help="a system message")
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--temperature", type=float)
    p.set_defaults(func=chat)
