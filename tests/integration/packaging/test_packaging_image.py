"""The Dockerfile cannot be built in CI (no registry to pull the base image from), so what the chart relies on is
checked on the text: a pinned base, the project installed as the tests install it, and the uid the pod runs as."""

from __future__ import annotations

import re
import subprocess
import sys

from helm_tools import REPO, Manifest, one

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]


def test_the_base_image_is_a_pinned_python_311_slim() -> None:
    (base,) = [arg for arg in instructions("ARG") if arg.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-[a-z]+", base), base


def test_two_stages_and_only_the_virtual_environment_is_carried_over() -> None:
    stages = instructions("FROM")
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    final = DOCKERFILE.split("FROM ${PYTHON_IMAGE}\n", 1)[1]
    assert "COPY --from=build /opt/graygate /opt/graygate" in final
    assert "pip install" not in final


def test_the_project_is_installed_as_the_tests_install_it() -> None:
    assert "/opt/graygate/bin/pip install ." in DOCKERFILE


def test_it_runs_as_the_uid_the_chart_expects(default_manifests: list[Manifest]) -> None:
    (user,) = instructions("USER")
    assert user == "65532:65532"
    pod = one(default_manifests, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert f"{pod['runAsUser']}:{pod['runAsGroup']}" == user
    assert instructions("ENTRYPOINT") == ['["graygate"]']


def test_the_build_context_is_only_what_pip_install_reads() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignored
    assert {"!pyproject.toml", "!README.md", "!operator/"} <= set(ignored)


def test_the_image_installs_the_operator_without_the_sandbox_extra() -> None:
    (install,) = [line for line in DOCKERFILE.splitlines() if "/opt/graygate/bin/pip install" in line]
    assert install.split("pip install", 1)[1].split() == [".", "\\"], install


def test_the_operator_imports_without_the_sandbox_extra() -> None:
    # What `graygate run` loads, in a Python where cryptography (the sandbox extra) cannot be imported.
    code = "import sys; sys.modules['cryptography'] = None; import graygate.handlers, graygate.wiring, graygate.cli"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
