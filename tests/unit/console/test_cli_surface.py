"""The command line as a user meets it: every help text renders (argparse formats `%` in them), `--debug` goes
before or after the verb, `-A` belongs to `get` only, `--context` is next to every `--kubeconfig`, `--version` says
the package and API versions, and the completion scripts know every command."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from graygate import cli
from graygate.console.commands import version_line
from graygate.console.completion import commands_of, script
from graygate.kube.client import api_client, current_namespace


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _walk(sub, (*path, name))
    return found


PARSERS = _walk(cli._parser())
COMMANDS = [path for path, _ in PARSERS]


def test_the_walk_finds_every_command() -> None:
    assert {("get",), ("status",), ("completion",), ("sandbox", "up"), ("promote",)} <= set(COMMANDS)
    assert len(COMMANDS) >= 16


@pytest.mark.parametrize(("path", "parser"), PARSERS, ids=lambda p: " ".join(p) if isinstance(p, tuple) else "")
def test_every_help_text_renders(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    text = parser.format_help() + parser.format_usage()
    assert "{'option_strings'" not in text
    assert "%(" not in text
    assert "%%" not in text
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert "{'" not in (choice.help or "")


def test_the_top_help_shows_promote_whole(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    assert "straight to 100% and" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("path", [p for p in COMMANDS if p], ids=" ".join)
def test_debug_is_accepted_before_and_after_the_verb(path: tuple[str, ...]) -> None:
    parser = cli._parser()
    needs = {
        ("get",): [], ("lint",): ["x.yaml"], ("check",): ["x.yaml"], ("status",): ["checkout"],
        ("completion",): ["bash"], ("run",): [], ("sandbox", "up"): [], ("sandbox", "down"): [],
        ("sandbox", "env"): [],
    }  # fmt: skip
    if path == ("sandbox",):
        return
    rest = needs.get(path, ["checkout"])
    assert parser.parse_args(["--debug", *path, *rest]).debug is True
    assert parser.parse_args([*path, *rest, "--debug"]).debug is True
    assert parser.parse_args([*path, *rest]).debug is False


def test_all_namespaces_is_for_get_only() -> None:
    helps = {path: parser.format_help() for path, parser in PARSERS}
    assert "--all-namespaces" in helps[("get",)]
    for path, text in helps.items():
        assert "get only" not in text
        if path not in {("get",), ("run",)}:
            assert "--all-namespaces" not in text, path


def test_context_is_next_to_every_kubeconfig() -> None:
    for path, parser in PARSERS:
        flags = {flag for action in parser._actions for flag in action.option_strings}
        if "--kubeconfig" in flags and path != ("run",):
            assert "--context" in flags, path


def test_version_names_the_package_and_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out == f"graygate {metadata.version('graygate')} (API graygate.dev/v1alpha1)\n" == version_line() + "\n"


def test_get_takes_wide() -> None:
    assert cli._parser().parse_args(["get", "-o", "wide"]).output == "wide"


# ---- --context ------------------------------------------------------------------------------------------------

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: one
clusters:
- {name: one, cluster: {server: "https://one.example:6443"}}
- {name: two, cluster: {server: "https://two.example:6443"}}
users:
- {name: me, user: {token: abc}}
contexts:
- {name: one, context: {cluster: one, user: me, namespace: shop}}
- {name: two, context: {cluster: two, user: me, namespace: payments}}
"""


def test_context_picks_the_cluster_and_namespace(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    assert api_client(path).configuration.host == "https://one.example:6443"
    assert api_client(path, "two").configuration.host == "https://two.example:6443"
    assert (current_namespace(path), current_namespace(path, "two")) == ("shop", "payments")


# ---- completion -----------------------------------------------------------------------------------------------


def test_completion_knows_every_command_and_choice() -> None:
    commands = {c.path: c for c in commands_of(cli._parser())}
    assert {"run", "get", "status", "completion", "sandbox"} <= set(commands[""].subcommands)
    assert commands["get"].values["--output"] == ["view", "wide", "json", "yaml"]
    assert commands["sandbox"].subcommands == ["up", "down", "env"]
    assert commands["completion"].choices == ["bash", "zsh", "fish"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_shell_gets_a_script(shell: str) -> None:
    text = script(cli._parser(), shell)
    assert "graygate" in text
    assert "status" in text
    assert "kubectl-graygate" in text


def _complete(*words: str) -> list[str]:
    """What bash offers for `words` (the last one being typed), with the script sourced."""
    source = script(cli._parser(), "bash")
    array = " ".join(f"'{w}'" for w in ("graygate", *words))
    program = f'{source}\nCOMP_WORDS=({array}); COMP_CWORD={len(words)}; _graygate; printf "%s\\n" "${{COMPREPLY[@]}}"'
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, timeout=10)
    assert done.stderr == ""
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_subcommands_flags_and_choices() -> None:
    assert "status" in _complete("")
    assert "completion" in _complete("")
    assert "--version" not in _complete("")
    assert "--version" in _complete("--")
    assert _complete("st") == ["status"]
    assert _complete("--debug", "pro") == ["promote"]
    assert _complete("get", "-o", "") == ["view", "wide", "json", "yaml"]
    assert _complete("get", "--out") == ["--output"]
    assert _complete("sandbox", "") == ["up", "down", "env"]
    assert "--detach" in _complete("sandbox", "up", "--")
    assert _complete("completion", "") == ["bash", "zsh", "fish"]
    assert _complete("status", "checkout", "--ti") == ["--timeout"]
    assert _complete("get", "--kubeconfig", "") == []  # a file name: left to bash's default completion
