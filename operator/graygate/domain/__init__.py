"""The pure core of graygate: no I/O, no clock, no asyncio. Time is a parameter and the outside world arrives as
data, so every situation is one value in a test.

The domain is four rooms that import downwards only (an import-linter contract keeps it so):

    release/   the phase table, the plan, Observations, `decide` → Decision, commands, bookkeeping of status
    analysis/  Measurement → (judge) → Verdict, folded into an Assessment; PromQL; statistics
    config/    a release's etcd config keys and their snapshot
    compare/   small libraries: exposition and parity, OpenAPI diff, JSON path and pointer, semver

`errors.py`, `url_allowlist.py`, `outbound.py` and `serving.py` stand beside the rooms: every room may raise the
first, the second is the platform team's rule for the URLs a release may name, the third the addresses never called
(link-local, cloud metadata) unless an allowlist entry names them, and the fourth says when an operator serving none
of the releases it should must exit.

One vocabulary (one word per concept, in code, status and docs):

- Reading: raw data from the outside, as one tick saw it (a route's weight, the workload's availability, one
  Prometheus query's answer, the release's etcd keys).
- Measurement: what one gate observed, with no opinion about it (its readings plus the inputs that explain them).
- Observations: everything one tick read, handed to `decide` in one value.
- Judge: a pure function of one gate kind, Measurement → Verdict.
- Outcome: the closed set Pass, Waiting, Inconclusive, Error, Fail (Python says `outcome`; the status JSON still
  says `verdict` and `lastVerdict` until the next API version).
- Verdict: an Outcome with its reason, value, threshold, inputs and time; the status keeps its outcome per gate.
- Assessment: the fold of one analysis' verdicts into counts and the worst outcome.
- Decision: what `decide` returns (Hold, Advance, Pause, Promote, Rollback, Complete, ...), with its Reason.
- Trigger: an input of the phase machine (`release.phases`); a Kubernetes Event is only ever called an Event.
- Complete: the decision (and the trigger) that ends a release as Succeeded, the canary at 100 %; nothing else.
- Settle: what a release in a terminal phase does each tick: hold where it ended (reason `Settled`) or re-assert
  drifted weights.
- Seal: bring a status's generation, message, `n/m` and conditions in line just before it is written
  (`bookkeeping.seal`); every decision's status is sealed. Finish and conclude name nothing in code.
"""
