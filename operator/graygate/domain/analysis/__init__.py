"""Judging one analysis: measurements, the judge of each gate kind, verdicts and their fold into an Assessment, the
PromQL a metric gate resolves, and the statistics behind relative thresholds.

Imports only `compare` below it: an analysis knows nothing of phases, steps or weights beyond the weight it is told.
"""
