"""pytest's root configuration: the cluster fixtures are shared by tests/integration and e2e/, so that one pytest
session starts one sandbox control plane."""

pytest_plugins = ["tests.cluster_fixtures"]
