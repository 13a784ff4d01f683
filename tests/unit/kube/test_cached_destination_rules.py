"""The destination check reads a namespace's DestinationRules from the watch-fed cache when it covers it, and lists
them from the API server only where it does not (an unwatched namespace, a cache not ready)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from graygate.kube.destinationrules import KubeDestinationRules


def _rule(namespace: str, name: str, host: str, *subsets: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"host": host, "subsets": [{"name": subset} for subset in subsets]},
    }


class _Listing:
    """Stands for the API server's list call; records the namespaces asked."""

    def __init__(self, items: dict[str, list[dict[str, Any]]]) -> None:
        self.items = items
        self.asked: list[str] = []

    def list_namespaced_custom_object(self, *, namespace: str, **_: Any) -> dict[str, Any]:
        self.asked.append(namespace)
        return {"items": self.items.get(namespace, [])}


def test_a_covered_namespace_is_read_from_the_cache_and_another_from_the_api_server() -> None:
    cached = {"shop": [_rule("shop", "checkout", "checkout", "stable", "canary")]}
    rules = KubeDestinationRules(client.ApiClient(client.Configuration()), cached.get)
    listing = _Listing({"istio-system": [_rule("istio-system", "mesh", "*.local", "stable")]})
    rules._custom = listing

    reading = rules._read("shop", ["shop", "istio-system"])

    assert listing.asked == ["istio-system"], "the covered namespace is never listed"
    assert [(rule.namespace, rule.name) for rule in reading.rules] == [("shop", "checkout"), ("istio-system", "mesh")]
    assert [subset.name for subset in reading.rules[0].subsets] == ["stable", "canary"]
    assert reading.errors == ()


def test_without_a_cache_every_namespace_is_listed() -> None:
    rules = KubeDestinationRules(client.ApiClient(client.Configuration()))
    listing = _Listing({"shop": [_rule("shop", "checkout", "checkout", "stable")]})
    rules._custom = listing

    reading = rules._read("shop", ["shop"])

    assert listing.asked == ["shop"]
    assert [rule.name for rule in reading.rules] == ["checkout"]


def test_a_namespace_no_cache_covers_is_listed_once_for_many_readers_then_again_after_a_while() -> None:
    rules = KubeDestinationRules(client.ApiClient(client.Configuration()), lambda namespace: None)
    listing = _Listing({"istio-system": [_rule("istio-system", "mesh", "*.local", "stable")]})
    rules._custom = listing
    now = [100.0]
    rules._clock = lambda: now[0]

    first = [rules._read(f"shop-{n}", ["istio-system"]) for n in range(50)]
    assert listing.asked == ["istio-system"], "fifty releases polling at once: one list"
    assert all([rule.name for rule in reading.rules] == ["mesh"] for reading in first)

    now[0] += 2.5
    rules._read("shop-0", ["istio-system"])
    assert listing.asked == ["istio-system", "istio-system"], "listed again once the last listing is old"
