"""The lab's own errors, so a failing e2e test says which piece of the lab broke and why.

LabError
├── LabProcessError     a process the lab started died or never became ready (carries the tail of its log)
├── LabTimeout          something the lab waited for did not happen in time
└── ShimError           a VirtualService the mesh shim cannot translate (what Istio would reject or we do not model)
"""

from __future__ import annotations


class LabError(Exception):
    """Base of every error raised by the traffic lab."""


class LabProcessError(LabError):
    """A lab process exited or never became ready; the message ends with the tail of its log."""

    def __init__(self, name: str, problem: str, log_tail: str) -> None:
        super().__init__(f"{name}: {problem}\n--- last lines of {name}'s log ---\n{log_tail}")
        self.name = name
        self.problem = problem
        self.log_tail = log_tail


class LabTimeout(LabError):
    """A bounded wait of the lab ran out."""


class ConfigRejected(LabError):
    """Envoy rejected a configuration the lab wrote; the message carries the tail of Envoy's log."""


class ShimError(LabError):
    """The VirtualService cannot be translated into Envoy routes."""
