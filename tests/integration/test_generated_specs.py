"""A short run of the generated specs (`make fuzz` is the long one): 120 specs drawn from the CRD's schema and
mutated from valid releases, applied to the real API server with the real operator running. Each ends refused with
the field named, Invalid with the field named, or valid; no Invalid release touches its VirtualService; and the
operator, alive and without a traceback in its log, still moves a known-good release afterwards."""

from __future__ import annotations

from collections import Counter

from graygate.sandbox import ControlPlane
from tests.cluster_support import OperatorProcess, ProbeTarget
from tests.spec_fuzz.applying import INVALID, REFUSED, VALID
from tests.spec_fuzz.generation import generate_cases
from tests.spec_fuzz.run import run

SEED = 18
COUNT = 120


def test_generated_specs_each_end_in_one_class_and_the_operator_keeps_working(
    sandbox: ControlPlane, namespace: str, operator: OperatorProcess, probe_target: ProbeTarget
) -> None:
    cases = generate_cases(COUNT, SEED, probe_target.url)
    report = run(sandbox.kubeconfig, namespace, operator, cases, workers=6)
    print("\n".join(report.lines(top=8)))
    assert not report.violations(), "\n".join(report.violations())
    classes = Counter(outcome.verdict for outcome in report.outcomes)
    assert sum(classes.values()) == COUNT
    assert set(classes) == {REFUSED, INVALID, VALID}, classes
