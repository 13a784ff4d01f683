# graygate — every target installs what it needs; a fresh clone needs only python3, go and make.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
TOOLS := $(CACHE)/toolchain/bin
export GRAYGATE_TOOLS := $(abspath $(TOOLS))
export PATH := $(abspath $(BIN)):$(abspath $(TOOLS)):$(PATH)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(BIN)/.installed ## the virtual environment with graygate and its dev tools

.PHONY: system-packages
system-packages: ## Debian's prometheus for the traffic lab and strace (installed once; needs root, as CI is; its system service, which would listen on every interface, is left off: the lab runs its own on 127.0.0.1)
	@command -v prometheus >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	  if [ -d /run/systemd/system ]; then systemctl disable --now prometheus.service; fi; }
	@# strace records the operator's filesystem writes in the read-only-root test (tests/integration/traced_operator.py).
	@command -v strace >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace; }

.PHONY: toolchain
toolchain: ## build kube-apiserver, etcd, kube-controller-manager, kube-scheduler, istiod, kwok, helm, actionlint and argolua (Argo CD's Lua), and fetch the Istio and Gateway API CRDs, once into .cache/
	bash e2e/toolchain/build.sh $(CACHE)/toolchain

.PHONY: lint
lint: venv ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff check operator tests e2e argocd
	$(BIN)/ruff format --check operator tests e2e argocd
	$(BIN)/mypy operator/graygate
	$(BIN)/mypy e2e/lab
	$(BIN)/mypy -p e2e.demo
	$(BIN)/mypy -p e2e.verdicts -m e2e.bench_verdicts
	$(BIN)/mypy -m e2e.chaos.invariants -m e2e.chaos.watcher -m e2e.chaos.moments -m e2e.chaos.proxies
	$(BIN)/mypy -m e2e.scale_figures -m e2e.scale_report -m e2e.scale_process
	$(BIN)/mypy --follow-imports=silent e2e/bench_scale.py
	$(BIN)/lint-imports

.PHONY: unit
unit: venv ## the pure and fake-backed tests (seconds)
	$(BIN)/pytest -q tests/unit

.PHONY: test
test: venv system-packages toolchain lint ## everything CI runs: lint, types, unit, integration and e2e tests
	$(BIN)/python -c "import operator, graygate; assert hasattr(operator, 'itemgetter')"
	$(BIN)/pytest -q -ra tests e2e

.PHONY: run
run: venv ## the demo: a local cluster, real traffic, one release: two versions promoted, one rolled back (with a reachable KUBECONFIG: only the operator)
	@# Against a real cluster only the operator runs: no toolchain to build, no Debian package to install.
	if $(BIN)/python -m e2e.demo --needs-sandbox; then $(MAKE) --no-print-directory system-packages toolchain; fi
	$(BIN)/python -m e2e.demo

.PHONY: bench-rollback
bench-rollback: venv system-packages toolchain ## seconds from a bad canary (10 % 5xx, p99 x3) to users back on stable; fails over 10 s
	$(BIN)/python -m e2e.bench_rollback

.PHONY: peers
peers: ## build Flagger and the Argo Rollouts controller (and fetch their CRDs) from the Go module proxy, once into .cache/; only `make bench-peers` needs them
	bash e2e/toolchain/build.sh $(CACHE)/toolchain --peers

.PHONY: bench-peers
bench-peers: venv system-packages toolchain peers ## graygate, Flagger and Argo Rollouts on the same sandbox, service and traffic; fails when a peer does not reconcile
	@# In a network namespace of its own (needs root, as CI has): the peers' servers listen on every interface.
	unshare --net -- sh -c 'ip link set lo up && exec $(BIN)/python -m e2e.bench_peers'

.PHONY: bench-verdicts
bench-verdicts: venv ## the window and the sequential Prometheus judge on 2,150 simulated releases, on the timer and gated: false rollbacks, seconds to Fail, where gated releases end (no servers; ~3.5 min on 2 cores); fails when a goal is missed
	$(BIN)/python -m e2e.bench_verdicts

.PHONY: bench-resources
bench-resources: venv toolchain ## the operator's CPU and memory, idle and with 20 releases checked every second
	$(BIN)/python -m e2e.bench_resources

.PHONY: bench-chaos
bench-chaos: venv system-packages toolchain ## 20 releases in the lab through 100 operator SIGKILLs, API server and etcd restarts, a degraded network, Prometheus down/slow/garbage, a hanging gate target and the app's etcd down; fails on any invariant violation (about 35 min: each kill waits for the restarted operator's first move; bounded at 45; SEED=n replays)
	$(BIN)/python -m e2e.bench_chaos $(if $(SEED),--seed $(SEED))

FUZZ_ARGS ?=
.PHONY: fuzz
fuzz: venv toolchain ## 1,000 generated CanaryRelease specs (Hypothesis from the CRD schema, and mutations) against the sandbox API server with the operator running, and the CRD's CEL rules against the API server's cost budget; prints the counts and the seed, fails on any violation (a few minutes on 2 cores; FUZZ_ARGS='--seed N' replays a run)
	$(BIN)/python -m tests.spec_fuzz $(FUZZ_ARGS)

.PHONY: bench-scale
bench-scale: venv toolchain ## 100, 1,000 and 3,000 releases on one operator against the sandbox with kwok (RSS, CPU, step delay p99, a bad canary's rollback loaded/alone, API requests from the audit log); ~25 min at most; fails when a goal is missed
	$(BIN)/python -m e2e.bench_scale

.PHONY: docs-capture
docs-capture: venv system-packages toolchain ## re-record docs/get-watch.{txt,ansi} through a pseudo-terminal
	$(BIN)/python -m e2e.demo.capture docs

.PHONY: generate
generate: venv toolchain ## regenerate everything derived from the code: CRD, chart copy, install manifest, Argo CD patch, README blocks
	$(BIN)/python -m graygate.api.crd
	PATH="$(abspath $(TOOLS)):$$PATH" bash deploy/render.sh
	$(BIN)/python argocd/render.py
	$(BIN)/python -m graygate.docs

.PHONY: clean
clean: ## remove the virtual environment (the toolchain cache stays)
	rm -rf $(VENV)
