"""`graygate completion bash|zsh|fish`: a completion script written from the parser itself, so it knows every
command, flag and choice the installed version has.

Why not argcomplete: it would add a dependency and start Python (and import graygate) on every Tab; a static script
answers at once, and a new flag reaches it by running `graygate completion` again. zsh runs the bash script through
`bashcompinit`, as zsh documents for bash completions.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

__all__ = ["Command", "commands_of", "script"]

PROGRAMS = ("graygate", "kubectl-graygate")


@dataclass
class Command:
    """One command path (`""`, `get`, `sandbox up`): its subcommands, flags, positional choices and the values of
    its flags (empty: a free value, completed as a file name)."""

    path: str
    subcommands: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)


def commands_of(parser: argparse.ArgumentParser, path: str = "") -> list[Command]:
    """Every command path of `parser`, depth first."""
    command = Command(path)
    nested: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                command.subcommands.append(name)
                nested += commands_of(sub, f"{path} {name}".strip())
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            command.flags += action.option_strings
            if action.nargs != 0:
                for flag in action.option_strings:
                    command.values[flag] = [str(c) for c in action.choices or ()]
        elif action.choices:
            command.choices += [str(c) for c in action.choices]
    return [command, *nested]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    commands = commands_of(parser)
    if shell == "fish":
        return _fish(commands)
    text = _bash(commands)
    if shell == "zsh":
        return "#compdef graygate kubectl-graygate\nautoload -U +X bashcompinit && bashcompinit\n" + text
    return text


def _bash(commands: list[Command]) -> str:
    subs = "\n".join(f'    "{c.path}") echo "{" ".join(c.subcommands)}" ;;' for c in commands if c.subcommands)
    words = "\n".join(f'    "{c.path}") echo "{" ".join([*c.subcommands, *c.choices])}" ;;' for c in commands)
    flags = "\n".join(f'    "{c.path}") echo "{" ".join(c.flags)}" ;;' for c in commands)
    values = "\n".join(
        f'    "{c.path} {flag}") echo "{" ".join(choices) or "-"}" ;;'
        for c in commands
        for flag, choices in c.values.items()
    )
    return f"""# graygate completion for bash: source <(graygate completion bash)
_graygate_subcommands() {{
  case "$1" in
{subs}
  esac
}}
_graygate_words() {{
  case "$1" in
{words}
  esac
}}
_graygate_flags() {{
  case "$1" in
{flags}
  esac
}}
_graygate_values() {{
  case "$1" in
{values}
  esac
}}
_graygate() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" path="" i word values
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${{COMP_WORDS[i]}}"
    if [[ " $(_graygate_subcommands "$path") " == *" $word "* ]]; then path="${{path:+$path }}$word"; fi
  done
  values="$(_graygate_values "$path $prev")"
  if [[ "$values" == "-" ]]; then COMPREPLY=(); return; fi
  if [[ -n "$values" ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
    return
  fi
  if [[ "$cur" == -* ]]; then values="$(_graygate_flags "$path")"; else values="$(_graygate_words "$path")"; fi
  mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
}}
complete -o default -F _graygate {" ".join(PROGRAMS)}
"""


def _fish(commands: list[Command]) -> str:
    lines = ["# graygate completion for fish: graygate completion fish | source"]
    for program in PROGRAMS:
        lines.append(f"complete -c {program} -f")
        for command in commands:
            last = command.path.rpartition(" ")[2]
            condition = f"__fish_seen_subcommand_from {last}" if command.path else "__fish_use_subcommand"
            if command.subcommands or command.choices:
                words = " ".join([*command.subcommands, *command.choices])
                lines.append(f"complete -c {program} -n '{condition}' -a '{words}'")
            for flag in command.flags:
                option = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                value = command.values.get(flag)
                takes = "" if value is None else (f" -xa '{' '.join(value)}'" if value else " -r -F")
                lines.append(f"complete -c {program} -n '{condition}' {option}{takes}")
    return "\n".join(lines) + "\n"
