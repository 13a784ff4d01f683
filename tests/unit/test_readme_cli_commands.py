"""Every `graygate` command the documents show exists, as shown: each command line in a shell block (```sh, ```bash,
```console, and `$ graygate …` lines of ```text transcripts) is parsed by the real parser, and each inline
`graygate VERB --flag …` names a command and flags it has. A renamed flag or a command the docs promise but the CLI
lacks fails here, in the unit ring, before a reader finds it."""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from graygate import cli

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "e2e/README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")))
_FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
_SHELLS = {"sh", "bash", "console", "shell"}
_INLINE = re.compile(r"`((?:kubectl )?graygate [^`]+)`")
_SUBSHELL = re.compile(r"\$\(((?:kubectl )?graygate [^)]*)\)")


@dataclass(frozen=True)
class Shown:
    document: str
    line: int
    words: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}: {' '.join(self.words)}"


def _commands(text: str) -> list[list[str]]:
    """The graygate commands in one shell line: split at `&&`, `||`, `;` and `|`, `$(…)` included."""
    found = [*_SUBSHELL.findall(text)]
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return []
    command: list[str] = []
    redirected = False
    for word in [*words, ";"]:
        if word in {"&&", "||", ";", "|", "&"}:
            if command:
                found.append(shlex.join(command))
            command, redirected = [], False
        elif redirected or set(word) & set("<>()"):
            redirected = True  # a redirection (`> out`, `2>&1`) ends the command's arguments
        else:
            command.append(word)
    out = []
    for line in found:
        parts = shlex.split(line, comments=True)
        if parts[:2] == ["kubectl", "graygate"]:
            parts = parts[1:]
        if parts and parts[0] in {"graygate", "kubectl-graygate"}:
            out.append(parts[1:])
    return out


def shown_in_blocks(document: str) -> list[Shown]:
    text = (REPO / document).read_text()
    shown = []
    for match in _FENCE.finditer(text):
        lang, body = match["lang"], match["body"]
        first = text.count("\n", 0, match.start("body")) + 1
        joined = body.replace("\\\n", " ")
        for offset, line in enumerate(joined.splitlines()):
            stripped = line.strip()
            if lang in _SHELLS or stripped.startswith("$ "):
                stripped = stripped.removeprefix("$ ")
                if lang not in _SHELLS and not stripped.startswith(("graygate ", "kubectl graygate ")):
                    continue
                shown += [Shown(document, first + offset, tuple(words)) for words in _commands(stripped)]
    return shown


def shown_inline(document: str) -> list[Shown]:
    """`graygate VERB …` in running text and tables: notation (`[--watch]`, `a | b`), so only the verb and the
    flags are checked, not a parse."""
    text = _FENCE.sub(lambda block: "\n" * block[0].count("\n"), (REPO / document).read_text())
    shown = []
    for match in _INLINE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        words = match[1].removeprefix("kubectl ").split()[1:]
        shown.append(Shown(document, line, tuple(words)))
    return shown


class Refused(Exception):
    pass


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`parser` raising instead of printing and exiting, at every depth."""

    def error(message: str) -> None:
        raise Refused(message)

    parser.error = error  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _strict(sub)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


BLOCKS = [shown for document in DOCUMENTS for shown in shown_in_blocks(document)]
INLINE = [shown for document in DOCUMENTS for shown in shown_inline(document)]


def test_the_documents_show_commands() -> None:
    verbs = {shown.words[0] for shown in BLOCKS + INLINE if shown.words}
    assert {"sandbox", "run", "get", "status", "check", "lint", "promote", "completion"} <= verbs


@pytest.mark.parametrize("shown", BLOCKS, ids=lambda shown: shown.id)
def test_each_command_in_a_shell_block_parses(shown: Shown) -> None:
    try:
        _strict(cli._parser()).parse_args(list(shown.words))
    except Refused as refused:
        pytest.fail(f"{shown.id}: graygate refuses it: {refused}")
    except SystemExit as exited:  # --help, --version
        if exited.code != 0:
            pytest.fail(f"{shown.id}: exits {exited.code}")


@pytest.mark.parametrize("shown", INLINE, ids=lambda shown: shown.id)
def test_each_inline_command_names_a_command_and_flags_it_has(shown: Shown) -> None:
    parser = cli._parser()
    words = [w for w in shown.words if w not in {"|", "\\|", "…"}]
    top = {flag for action in parser._actions for flag in action.option_strings}
    while words and words[0] in top:
        words.pop(0)
    if not words:
        return
    # `promote | pause | resume NAME` and `sandbox up | down | env`: each alternative is a command
    commands = _subparsers(parser)
    verbs = [w.strip("[]") for w in words if w.strip("[]") in commands] or [words[0]]
    flags = set(top)
    for verb in verbs:
        assert verb in commands, f"{shown.id}: no command {verb!r}"
        flags |= {flag for action in commands[verb]._actions for flag in action.option_strings}
        for sub in _subparsers(commands[verb]).values():
            flags |= {flag for action in sub._actions for flag in action.option_strings}
    for word in words:
        flag = re.match(r"\[?(-[-\w]+)", word)
        if flag is not None and flag[1] not in {"-", "--"}:
            assert flag[1] in flags, f"{shown.id}: {' or '.join(verbs)} has no {flag[1]}"


def test_the_checker_finds_commands_in_a_line_and_refuses_what_does_not_exist() -> None:
    line = 'kubectl apply -f r.yaml && graygate status checkout --timeout 30m; eval "$(graygate sandbox env)" # note'
    assert _commands(line) == [["sandbox", "env"], ["status", "checkout", "--timeout", "30m"]]
    assert _commands("kubectl graygate get -A | head") == [["get", "-A"]]
    for wrong in (["stauts", "checkout"], ["get", "--wide"], ["promote", "checkout", "-A"]):
        with pytest.raises(Refused):
            _strict(cli._parser()).parse_args(wrong)
