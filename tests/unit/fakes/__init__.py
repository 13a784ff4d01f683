"""One hand-written fake per port, shared by every test that needs one: a fake records at least what any test asserts
on, so no test keeps a copy of its own. A module per port: `virtual_services` (VirtualServiceStore), `statuses`
(StatusWriter), `events` (EventSink), `gates` (the service's Measurer), `workloads` (WorkloadProbe), `secrets`
(SecretReader), `config_keys` (ConfigKeys)."""
