"""Tests of the traffic lab itself (e2e/lab): pure tables first, then real Envoy, backends and Prometheus."""

from __future__ import annotations
