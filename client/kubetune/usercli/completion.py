"""`kubetune completion bash|zsh|fish`: completion scripts generated from the argparse tree (no dependency).

Each script finds the command typed so far the same way: the words before the cursor that are neither
options nor the value after an option that takes one (`kubetune ls -o json <TAB>` is still `ls`), then
offers that command's subcommands and options (zsh and fish with their help text).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")


@dataclass
class Option:
    long: str | None
    short: str | None
    help: str
    takes_value: bool
    choices: list[str] = field(default_factory=list)


@dataclass
class Command:
    subcommands: dict[str, str] = field(default_factory=dict)  # name -> help
    options: list[Option] = field(default_factory=list)


def _text(help_text: str | None) -> str:
    """The first line of an argparse help, without %-formatting, short enough for a menu."""
    text = (help_text or "").split("\n")[0].replace("%%", "%")
    if "%(" in text or help_text == argparse.SUPPRESS:
        return ""
    return text if len(text) <= 70 else text[:67] + "..."


def commands(parser: argparse.ArgumentParser) -> dict[str, Command]:
    """Command path ('' for the top) -> what it accepts."""
    table: dict[str, Command] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        command = table[path] = Command()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, child in action.choices.items():
                    command.subcommands[name] = _text(helps.get(name))
                    walk(child, f"{path} {name}".strip())
            elif action.option_strings:
                long = next((o for o in action.option_strings if o.startswith("--")), None)
                short = next((o for o in action.option_strings if len(o) == 2 and o[1] != "-"), None)
                command.options.append(Option(long, short, _text(action.help), action.nargs != 0,
                                              [str(c) for c in action.choices or []]))

    walk(parser, "")
    return table


def _value_options(table: dict[str, Command]) -> list[str]:
    """Every option that takes a value, in any command (its next word is not a command word)."""
    found = {name for c in table.values() for o in c.options if o.takes_value for name in (o.long, o.short) if name}
    return sorted(found)


def _choice_cases(table: dict[str, Command], indent: str, offer: str) -> str:
    """Shell case arms: an option with choices -> ``offer`` (a format with {words}) of its choices."""
    arms: dict[str, list[str]] = {}
    for command in table.values():
        for o in command.options:
            for name in (o.long, o.short):
                if name and o.choices:
                    arms.setdefault(name, o.choices)
    by_choices: dict[tuple[str, ...], list[str]] = {}
    for name, choices in sorted(arms.items()):
        by_choices.setdefault(tuple(choices), []).append(name)
    return "\n".join(f"{indent}{'|'.join(names)}) {offer.format(words=' '.join(choices))} ;;"
                     for choices, names in by_choices.items())


def _words(command: Command) -> list[str]:
    return sorted(command.subcommands) + sorted(o.long for o in command.options if o.long)


def bash_script(parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    cases = "\n".join(f'        "{path}") words="{" ".join(_words(c))}" ;;' for path, c in table.items())
    return f"""# kubetune bash completion: eval "$(kubetune completion bash)"
_kubetune() {{
    local cur path="" w words skip=0 opt=""
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        if (( skip )); then skip=0; continue; fi
        case "$w" in {"|".join(_value_options(table))}) skip=1; opt="$w" ;; -*) ;; *) path="${{path:+$path }}$w" ;; esac
    done
    if (( skip )); then  # the value of an option: its choices, else files (-o default)
        case "$opt" in
{_choice_cases(table, "            ", 'COMPREPLY=($(compgen -W "{words}" -- "$cur"))')}
            *) COMPREPLY=() ;;
        esac
        return
    fi
    case "$path" in
{cases}
        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _kubetune kubetune
"""


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def zsh_script(parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    cases = []
    for path, command in table.items():
        entries = [f"{name}:{text}" for name, text in sorted(command.subcommands.items())]
        entries += [f"{name}:{o.help}" for o in command.options for name in (o.long, o.short) if name]
        cases.append(f'        "{path}") candidates=({" ".join(_zsh_quote(e) for e in entries)}) ;;')
    values = "|".join(_value_options(table))
    choices = _choice_cases(table, "            ", "compadd -- {words}")
    case_lines = "\n".join(cases)
    return f"""#compdef kubetune
# kubetune zsh completion: `source <(kubetune completion zsh)` after compinit, or save it as _kubetune in $fpath.
_kubetune() {{
    local cmd="" w skip=0 opt=""
    local -a candidates
    for w in "${{(@)words[2,CURRENT-1]}}"; do
        if (( skip )); then skip=0; continue; fi
        case "$w" in {values}) skip=1; opt="$w" ;; -*) ;; *) cmd="${{cmd:+$cmd }}$w" ;; esac
    done
    if (( skip )); then  # the value of an option: its choices, else a file
        case "$opt" in
{choices}
            *) _files ;;
        esac
        return
    fi
    case "$cmd" in
{case_lines}
        *) candidates=() ;;
    esac
    _describe -t commands kubetune candidates || _files
}}
# Sourced or eval'ed: register the function. Autoloaded from $fpath: this file is the function's body, run it.
if [[ "${{funcstack[1]}}" == "_kubetune" ]]; then
    _kubetune "$@"
else
    compdef _kubetune kubetune
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    lines = []
    for path, command in table.items():
        at = f"-n \"__kubetune_at '{path}'\""  # command words: letters, digits and dashes only
        for name, text in sorted(command.subcommands.items()):
            lines.append(f"complete -c kubetune {at} -a {_fish_quote(name)} -d {_fish_quote(text)}")
        for o in command.options:
            flags = (f" -l {o.long[2:]}" if o.long else "") + (f" -s {o.short[1:]}" if o.short else "")
            if o.choices:
                flags += f" -x -a {_fish_quote(' '.join(o.choices))}"
            elif o.takes_value:
                flags += " -r -F"
            lines.append(f"complete -c kubetune {at}{flags} -d {_fish_quote(o.help)}")
    values = " ".join(_value_options(table))
    body = "\n".join(lines)
    return f"""# kubetune fish completion: `kubetune completion fish | source`,
# or save it as ~/.config/fish/completions/kubetune.fish
function __kubetune_cmd --description 'the kubetune command typed so far'
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmd
    set -l skip 0
    for w in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case {values}
                set skip 1
            case '-*'
            case '*'
                set -a cmd $w
        end
    end
    string join ' ' -- $cmd
end
function __kubetune_at --description 'is the kubetune command typed so far $argv[1]?'
    set -l cmd (__kubetune_cmd)
    test "$cmd" = "$argv[1]"
end
complete -c kubetune -f
{body}
"""


SCRIPTS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], root: argparse.ArgumentParser) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    p.add_argument("shell", choices=SHELLS)

    def run(args: argparse.Namespace) -> int:
        print(SCRIPTS[args.shell](root), end="")
        return 0

    p.set_defaults(func=run)
