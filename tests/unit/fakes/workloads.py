"""The workload probe (`service.WorkloadProbe`) of a release that names no workload: asking it is a bug."""

from __future__ import annotations

from graygate.domain.analysis.measurements import WorkloadReading


async def no_workload(namespace: str, name: str) -> WorkloadReading:
    raise AssertionError("the spec names no workload")
