"""The demo's last words: what it showed, what it measured, and how to do the same against a real cluster."""

from __future__ import annotations

from e2e.demo.story import ERROR_RATE, Figures


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def epilogue(figures: Figures, total_s: float) -> str:
    caught = figures.caught
    gate = (
        f"by gate {caught.gate}:\n   it saw {caught.value} and needed {caught.threshold}."
        if caught is not None
        else f"{figures.message}."
    )

    def users(version: str) -> str:
        seen = figures.promoted_users.get(version)
        return seen.describe() if seen else "-"

    v2, v4 = _seconds(figures.promoted_s.get("v2")), _seconds(figures.promoted_s.get("v4"))
    bad = figures.bad_users.describe() if figures.bad_users else "-"
    final = figures.final_users.describe() if figures.final_users else "-"
    return f"""\
One Deployment, one VirtualService and one CanaryRelease were applied once; every version after that was only a
new pod template (an image, and for v3 an env var). v1 was adopted as stable: graygate created checkout-primary.
1. v2 went 10 → 30 → 60 → 100 %, each weight held until the success rate and p99 latency from Prometheus passed;
   then checkout-primary rolled it out (Promoting) and took all the traffic back: promoted in {v2}.
   users: {users("v2")}
2. v3 failed {ERROR_RATE:.0%} of its requests and was rolled back {gate}
   {_seconds(figures.detect_s)} from its first request to the release Failed with all traffic on stable (v2).
   users meanwhile: {bad}
3. v4 was promoted as v2 was, in {v4}; users now: {final}
The whole demo took {total_s:.0f} s; every process it started has been stopped.

Against a real cluster with Istio and Prometheus (e2e/README.md has the whole kind recipe; docs/gitops.md section 5
the same one-release layout in Git):
  helm install graygate charts/graygate -n graygate-system --create-namespace \\
    --set image.repository=<your registry>/graygate \\
    --set prometheus.address=http://prometheus.istio-system:9090   # README "Installing": the image, or install.yaml
  kubectl apply -f e2e/demo/manifests/cluster.yaml                 # checkout v1 and its routing, as Git holds them
  graygate lint e2e/demo/manifests/checkout.yaml                   # the operator's own rules, offline
  kubectl apply -f e2e/demo/manifests/checkout.yaml                # once: v1 is adopted as stable
  kubectl set image -n shop deployment/checkout checkout=<your image>   # each release from now on
  graygate get checkout -n shop --watch
From this clone, `make run` with a KUBECONFIG whose cluster answers runs only the operator (`graygate run`)."""
