"""`kubetune completion bash`: a completion script generated from the argparse tree (no extra dependency)."""

from __future__ import annotations

import argparse


def _words(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Command path ('' for the top) -> the subcommands and options it accepts."""
    table: dict[str, list[str]] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        words: list[str] = []
        for action in p._actions:
            words += [o for o in action.option_strings if o.startswith("--")]
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    words.append(name)
                    walk(child, f"{path} {name}".strip())
        table[path] = sorted(set(words))

    walk(parser, "")
    return table


def bash_script(parser: argparse.ArgumentParser) -> str:
    cases = "\n".join(f'        "{path}") words="{" ".join(words)}" ;;' for path, words in _words(parser).items())
    return f"""# kubetune bash completion: eval "$(kubetune completion bash)"
_kubetune() {{
    local cur path="" w words
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$w" in -*) ;; *) path="${{path:+$path }}$w" ;; esac
    done
    case "$path" in
{cases}
        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _kubetune kubetune
"""


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], root: argparse.ArgumentParser) -> None:
    p = sub.add_parser("completion", help="print a shell completion script")
    p.add_argument("shell", choices=["bash"])

    def run(args: argparse.Namespace) -> int:
        print(bash_script(root), end="")
        return 0

    p.set_defaults(func=run)
