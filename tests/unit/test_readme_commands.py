"""Every ```sh block in the READMEs is either run by a test or says why it cannot be.

A block is one of three kinds:

- marked `# needs a real cluster` (a line of its own, optionally followed by what it needs): shown, never run here;
- preceded by `<!-- covered by: PATH[, PATH] -->`: run elsewhere, by the named files (e.g. `make run` by
  `e2e/test_demo.py`), which must exist;
- anything else: run as written, in bash from the repository's root, by `tests/integration/test_cli.py`.

This module parses the blocks (for both rings) and checks the marks; the running is the integration ring's job,
because some blocks start the sandbox or the traffic lab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "e2e/README.md", "docs/gitops.md")
NEEDS_CLUSTER = "# needs a real cluster"
_BLOCK = re.compile(r"(?:<!-- covered by: (?P<covered>[^>]*?) -->\n)?```sh\n(?P<body>.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ShellBlock:
    document: str
    line: int
    body: str
    covered_by: tuple[str, ...]

    @property
    def needs_cluster(self) -> bool:
        return any(line.strip().startswith(NEEDS_CLUSTER) for line in self.body.splitlines())

    @property
    def runnable(self) -> bool:
        return not self.needs_cluster and not self.covered_by

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def shell_blocks(document: str) -> list[ShellBlock]:
    text = (REPO / document).read_text()
    blocks = []
    for match in _BLOCK.finditer(text):
        covered = tuple(p.strip() for p in (match["covered"] or "").split(",") if p.strip())
        line = text.count("\n", 0, match.start("body"))
        blocks.append(ShellBlock(document=document, line=line, body=match["body"], covered_by=covered))
    return blocks


def all_blocks() -> list[ShellBlock]:
    return [block for document in DOCUMENTS for block in shell_blocks(document)]


def test_the_parser_sees_every_sh_fence() -> None:
    for document in DOCUMENTS:
        fences = (REPO / document).read_text().count("```sh\n")
        assert len(shell_blocks(document)) == fences, document


@pytest.mark.parametrize("block", all_blocks(), ids=lambda block: block.id)
def test_each_block_is_run_or_marked(block: ShellBlock) -> None:
    assert not (block.needs_cluster and block.covered_by), f"{block.id}: marked twice"
    for path in block.covered_by:
        assert (REPO / path).exists(), f"{block.id}: covered by {path}, which does not exist"
    if block.runnable:
        assert "kubectl apply" not in block.body or "sandbox" in block.body, (
            f"{block.id}: applies to a cluster; mark it `{NEEDS_CLUSTER}` or run it against the sandbox"
        )


def test_the_readme_runs_some_blocks_and_marks_the_others() -> None:
    blocks = shell_blocks("README.md")
    assert any(block.runnable for block in blocks)
    assert any(block.needs_cluster for block in blocks)
    assert any("make run" in block.body for block in blocks if "e2e/test_demo.py" in block.covered_by)
