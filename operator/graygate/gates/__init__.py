"""Gates: the I/O side of each gate kind. An observer observes a check into a Measurement; the domain judges it.

Every gate kind is listed once, in `kinds.KINDS`; the runner, the URL allowlist, the judge dispatch and the CRD's
rules read it (or the model and measurement it names) and keep no list of their own.

Adding a gate kind is four hand-written files plus tests (the `webhook` kind is the example below):

1. `api/gates/webhook.py`: the model, a `CheckModel` with `kind = "webhook"`, its `bounded_wait` (the path of the
   duration one analysis may wait, checked against the interval in pydantic and CEL) and `urls()` (what the URL
   allowlist must approve). Then one optional field on `api.gates.Gate` and one member of `api.gates.GateCheck`
   (the API union), and `make generate` for the CRD, the chart's copy and the README reference.
2. `domain/analysis/webhook.py`: the measurement (a `Measurement` subclass with the same `kind`; `judged` names the
   judge, and `unmeasured` when the measurement records more than the gate's name) and the pure judge, tested
   with a table of measurements.
3. `gates/webhook.py`: the observer, a `graygate.ports.Observer`: `observe(gate, check, now, scope)` and `close()`,
   built by `WebhookObserver.of(tools)` from the shared `GateTools` (fetcher, etcd connections, Secret reader).
4. One line in `gates/kinds.py`: `GateKind(Webhook, WebhookMeasurement, WebhookObserver.of)`.

Then `make generate` (it needs the toolchain's helm for the chart's copy and `deploy/install.yaml`), and the tests:
a judge table and an observer test of the kind's own; an example of its check in `tests/unit/gates/test_gate_kinds.py`
(which fails until the table and the API union agree); the kind's field in `tests/unit/api/test_api_spec.py`; and a
row per CEL rule it adds in `tests/integration/test_release_validation.py` (its bounded wait gives one). The `Gate`
model's docstring names the kinds, and becomes the CRD's description: add the new one there too.

A kind calls only what the platform team's URL allowlist approves through `urls()`. A kind whose target is not an
http(s) URL (a TCP address, a queue) cannot be approved by it as it stands: teach `domain/url_allowlist.py` that
target's form before shipping such a kind, or the allowlist does not bound it.
"""
