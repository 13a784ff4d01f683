"""The chaos bench, short: a few releases in the lab through every fault once, briefly (3 operator SIGKILLs, one
API server restart, an etcd restart, a partition, Prometheus down/slow/garbage, a hanging gate target, the app's
etcd down during an apply and a restore), with the invariant watcher checking every version; `make bench-chaos`
runs the long one. Nothing timed is asserted here: only that no invariant broke and every run ended as its policy
says."""

from __future__ import annotations

import pytest

from e2e.bench_chaos import main


@pytest.mark.timeout(660)
def test_every_fault_briefly_keeps_every_invariant(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--short", "--releases", "6", "--budget", "540", "--seed", "18"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "PASS: 0 violations, 0 runs not ended as their policy says" in printed, printed
