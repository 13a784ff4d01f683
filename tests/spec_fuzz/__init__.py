"""Generated CanaryRelease specs against the real API server with the real operator running: `make fuzz` (the long
run, `python -m tests.spec_fuzz`) and `tests/integration/test_generated_specs.py` (a short one in `make test`).

Every spec ends in exactly one class: refused at admission with the field named, accepted and then `Invalid` with
the field named, or valid. The specs come from the CRD's own schema (Hypothesis with hypothesis-jsonschema) and from
mutations of valid releases; all of them follow from one seed, so a run is replayed by giving its seed again.
"""
