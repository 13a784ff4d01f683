"""The demo's last words: what it showed, what it measured, and how to do the same against a real cluster."""

from __future__ import annotations

from e2e.demo.story import Figures


def epilogue(figures: Figures, total_s: float) -> str:
    caught = figures.caught
    gate = (
        f"by gate {caught.gate}:\n   it saw {caught.value} and needed {caught.threshold}."
        if caught is not None
        else f"{figures.message}."
    )
    detect = "-" if figures.detect_s is None else f"{figures.detect_s:.1f} s"
    healthy = figures.healthy_users.describe() if figures.healthy_users else "-"
    bad = figures.bad_users.describe() if figures.bad_users else "-"
    return f"""\
1. checkout v2 went 10 → 30 → 60 → 100 % in {figures.healthy_s:.1f} s; each weight was held until the success rate
   and p99 latency from Prometheus and the /healthz probe passed.
   users: {healthy}
2. checkout v3 went bad after step 2 and was rolled back {gate}
   {detect} from the first bad request to the release Failed with all traffic on stable.
   users meanwhile: {bad}
3. The whole demo took {total_s:.0f} s; every process it started has been stopped.

Against a real cluster with Istio and Prometheus (e2e/README.md has the whole kind recipe):
  helm install graygate charts/graygate -n graygate-system --create-namespace \\
    --set prometheus.address=http://prometheus.istio-system:9090   # or: kubectl apply -f deploy/install.yaml
  graygate lint e2e/kind/checkout-v2.yaml                          # the operator's own rules, offline
  graygate check e2e/kind/checkout-v2.yaml --prometheus http://127.0.0.1:9090   # the gates once, from here
  kubectl apply -f e2e/kind/checkout-v2.yaml
  graygate get checkout-v2 -n shop --watch
From this clone, `make run` with a KUBECONFIG whose cluster answers runs only the operator (`graygate run`)."""
