"""pytest's root configuration: the cluster fixtures are shared by tests/integration and e2e/, so that one pytest
session starts one sandbox control plane."""

from __future__ import annotations

import signal

import pytest

pytest_plugins = ["tests.cluster_fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    # CI stops a run that is over time with SIGTERM. By default that kills pytest outright and orphans every
    # etcd, kube-apiserver and lab process the fixtures started in their own sessions; as an interrupt, pytest
    # still tears the fixtures down, and they stop what they started.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signal_number: int, frame: object) -> None:
    # Raised directly, not re-sent as SIGINT: asyncio's runner turns a SIGINT into a cancelled task, which a test
    # may swallow.
    raise KeyboardInterrupt(f"signal {signal_number}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A skipped test reads as green in a summary line nobody reads: in this project a test that cannot run (a
    # missing binary, an unreachable server) is a failure of the run, never a skip.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"{len(skipped)} test(s) skipped: a skip fails this run (see conftest.py)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
