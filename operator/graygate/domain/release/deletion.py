"""What deleting a release does to its routes: never an ungated jump to a version that did not pass.

Why a table: deletion is the one move no tick decides (the release is going), so its rule must be as plain as the
phase table. The original routes graygate recorded send all traffic to the stable destination as it was before the
run. Restoring them is right whenever that is where traffic should be:

| phase                                  | routes           | why                                                  |
|----------------------------------------|------------------|------------------------------------------------------|
| Pending, Progressing, Paused           | restored         | the canary has not passed: back to the stable         |
| Failed, Aborted                        | restored         | the canary is at 0 % already                         |
| Invalid                                | as the phase before: an invalid spec leaves traffic as it was        |
| Succeeded, with a followed workload    | restored         | the primary runs the promoted revision: same traffic |
| Succeeded, without one                 | left as they are | the canary passed and carries 100 %; the recorded    |
|                                        |                  | routes would send everyone back to the old version   |
| Promoting                              | left as they are | the canary passed and carries 100 % while the        |
|                                        |                  | primary rolls it out                                 |
"""

from __future__ import annotations

from typing import Literal

from graygate.api.status import Phase

__all__ = ["on_delete"]

RouteFate = Literal["restore", "keep"]


def on_delete(phase: Phase, *, follows_workload: bool, before_invalid: Phase | None = None) -> RouteFate:
    """Whether deleting a release in `phase` restores its original routes or leaves them as they are. An Invalid
    release left its traffic as it was: it is judged by the phase it was in before (`before_invalid`)."""
    if phase is Phase.INVALID and before_invalid is not None and before_invalid is not Phase.INVALID:
        phase = before_invalid
    if phase is Phase.PROMOTING:
        return "keep"
    if phase is Phase.SUCCEEDED and not follows_workload:
        return "keep"
    return "restore"
