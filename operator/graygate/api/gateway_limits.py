"""The bounds Gateway API's HTTPRoute CRD (`gateway.networking.k8s.io/v1`, standard channel) puts on what graygate
writes into an HTTPRoute it does not own.

Why spelled out here: header rules add rules, matches and names to someone else's HTTPRoute, and the API server
refuses a write that breaks one of these bounds only at the step that colours traffic. The spec's validation and
the router check them first, so the refusal comes at `kubectl apply`, or before any HTTPRoute is written.
"""

from __future__ import annotations

__all__ = ["MAX_HEADERS_PER_MATCH", "MAX_MATCHES", "MAX_MATCHES_PER_RULE", "MAX_RULES", "MAX_RULE_NAME"]

MAX_RULE_NAME = 253
"""`spec.rules[].name` maxLength."""

MAX_RULES = 16
"""`spec.rules` maxItems."""

MAX_MATCHES_PER_RULE = 64
"""`spec.rules[].matches` maxItems."""

MAX_MATCHES = 128
"""The CEL rule on `spec.rules`: the matches of all rules together (a rule without any counts its default one)."""

MAX_HEADERS_PER_MATCH = 16
"""`spec.rules[].matches[].headers` maxItems."""
