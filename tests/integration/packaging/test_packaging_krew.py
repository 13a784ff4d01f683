"""The krew manifest template (deploy/krew/graygate.yaml.tmpl), rendered as the release workflow renders it (its
comment lines dropped, the placeholders filled), is a valid krew Plugin: the fields krew requires, one platform per
archive the workflow builds, each with an https URI, a sha256 and the executable."""

from __future__ import annotations

import re
import string
import tomllib

import yaml
from helm_tools import REPO

TEMPLATE = REPO / "deploy" / "krew" / "graygate.yaml.tmpl"
RELEASE = REPO / ".github" / "workflows" / "release.yml"
VERSION = "v" + tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
RELEASE_URL = f"https://github.com/example/graygate/releases/download/{VERSION}"
PLATFORMS = {("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")}


def _sample_values() -> dict[str, str]:
    values = {"VERSION": VERSION, "HOMEPAGE": "https://github.com/example/graygate", "RELEASE_URL": RELEASE_URL}
    # One checksum of digits only: unquoted, YAML would read it as a number.
    for number, (os, arch) in enumerate(sorted(PLATFORMS)):
        values[f"SHA256_{os.upper()}_{arch.upper()}"] = ("0123456789" * 7)[:64] if number == 0 else f"{number:x}e" * 32
    return values


def _render(values: dict[str, str]) -> str:
    body = "".join(line for line in TEMPLATE.read_text().splitlines(keepends=True) if not line.startswith("#"))
    return string.Template(body).substitute(values)  # a missing value raises, as no placeholder may stay


def test_the_rendered_manifest_is_a_krew_plugin() -> None:
    values = _sample_values()
    plugin = yaml.safe_load(_render(values))
    assert plugin["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert plugin["kind"] == "Plugin"
    assert plugin["metadata"]["name"] == "graygate"
    spec = plugin["spec"]
    assert spec["version"] == VERSION
    assert re.fullmatch(r"v\d+\.\d+\.\d+", spec["version"]), "krew wants a semantic version with a leading v"
    assert spec["shortDescription"]
    assert spec["homepage"] == values["HOMEPAGE"]
    seen = set()
    for platform in spec["platforms"]:
        labels = platform["selector"]["matchLabels"]
        key = (labels["os"], labels["arch"])
        seen.add(key)
        assert platform["uri"] == f"{RELEASE_URL}/kubectl-graygate_{key[0]}_{key[1]}.tar.gz"
        assert platform["sha256"] == values[f"SHA256_{key[0].upper()}_{key[1].upper()}"]
        assert re.fullmatch(r"[0-9a-f]{64}", platform["sha256"])
        assert platform["bin"] == "kubectl-graygate"
    assert seen == PLATFORMS
    assert len(spec["platforms"]) == len(PLATFORMS)


def test_every_placeholder_is_one_the_workflow_fills() -> None:
    body = "".join(line for line in TEMPLATE.read_text().splitlines(keepends=True) if not line.startswith("#"))
    used = {match[1] for match in re.finditer(r"\$\{(\w+)\}", body)}
    assert used == set(_sample_values())
    (passed,) = re.findall(r"placeholders='([^']*)'", RELEASE.read_text())
    assert set(re.findall(r"\$\{(\w+)\}", passed)) == used


def test_the_workflow_builds_an_archive_for_each_platform() -> None:
    matrix = yaml.safe_load(RELEASE.read_text())["jobs"]["cli"]["strategy"]["matrix"]["include"]
    assert {(entry["os"], entry["arch"]) for entry in matrix} == PLATFORMS
