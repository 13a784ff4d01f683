"""A release in time: the phase table, the plan of steps, the readings of one tick (Observations), and `decide`,
which turns (spec, status, observations, now) into one Decision, with the bookkeeping of status, the moves between
steps, the manual commands, the pre-checks, and the etcd config keys' part of a run.

The top room of the domain: it uses `analysis`, `config` and `compare`, and nothing uses it but the service.
"""
