"""The chart as a release ships it: one version for the Python package, the chart and the image it runs; `helm
package` makes the archive the release workflow pushes as an OCI artifact, and that archive renders; and the chart
never names an image nobody can pull: image.repository is required, with a message saying how to get one."""

from __future__ import annotations

import tarfile
import tomllib
from pathlib import Path

import yaml
from helm_tools import CHART, IMAGE_VALUES, REPO, TEST_REPOSITORY, Helm, one

PACKAGE_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())


def test_the_chart_version_and_app_version_are_the_python_package_version() -> None:
    assert CHART_YAML["version"] == PACKAGE_VERSION, "Chart.yaml version differs from pyproject.toml's"
    assert CHART_YAML["appVersion"] == PACKAGE_VERSION, "Chart.yaml appVersion differs from pyproject.toml's"


def test_helm_package_makes_the_archive_of_that_version(helm: Helm, tmp_path: Path) -> None:
    helm.run("package", str(CHART), "--destination", str(tmp_path))
    archive = tmp_path / f"graygate-{PACKAGE_VERSION}.tgz"
    assert archive.is_file(), sorted(p.name for p in tmp_path.iterdir())
    with tarfile.open(archive) as packed:
        names = set(packed.getnames())
        packed_chart = yaml.safe_load(packed.extractfile("graygate/Chart.yaml").read())  # type: ignore[union-attr]
    assert {"graygate/Chart.yaml", "graygate/values.yaml", "graygate/values.schema.json"} <= names
    assert {f"graygate/crds/{path.name}" for path in (CHART / "crds").glob("*.yaml")} <= names
    assert {f"graygate/templates/{path.name}" for path in (CHART / "templates").iterdir()} <= names
    assert (packed_chart["version"], packed_chart["appVersion"]) == (PACKAGE_VERSION, PACKAGE_VERSION)
    # The archive, not the folder, is what users install: it renders, with the image at the package's version.
    rendered = helm.run("template", "graygate", str(archive), "--values", str(IMAGE_VALUES)).stdout
    manifests = [document for document in yaml.safe_load_all(rendered) if document]
    (container,) = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{TEST_REPOSITORY}:{PACKAGE_VERSION}"


def test_the_default_image_is_a_required_value_not_a_bare_name() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["image"]["repository"] == "", "the chart's default image must be set by the user"


def test_without_an_image_repository_the_chart_says_how_to_get_one(helm: Helm) -> None:
    done = helm.run("template", "graygate", str(CHART), check=False)
    assert done.returncode != 0
    assert "image.repository is required" in done.stderr
    assert "Dockerfile" in done.stderr
    assert "--set image.repository=" in done.stderr


def test_the_install_manifest_names_the_placeholder_registry() -> None:
    install = (REPO / "deploy" / "install.yaml").read_text()
    images = {line.split("image:", 1)[1].strip().strip('"') for line in install.splitlines() if "image:" in line}
    assert images == {f"registry.example.com/graygate:{PACKAGE_VERSION}"}
    assert "placeholder" in install.split("---", 1)[0]
