"""The CRD's CEL rules against the API server's cost limits, measured by the API server itself.

Two limits: at install, the server estimates each rule's worst-case cost from the schema's bounds and refuses (or,
for what it only warns about, answers with `Warning` headers) a CRD over its static budget; at every write, it
counts the real cost of evaluating the rules on the object and refuses one over the per-request runtime budget. So:
install a copy of the CRD (under another group, dry run, so nothing changes) and keep its warnings, then create the
largest releases the schema allows and see them admitted.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graygate.api.crd import build_crd
from tests.cluster_support import RELEASES
from tests.spec_fuzz.largest import LARGEST

COPY_GROUP = "cost.graygate.dev"


@dataclass(frozen=True)
class Admission:
    routing: str
    size_bytes: int
    admitted: bool
    seconds: float
    answer: str
    """The refusal's message, or '' when admitted."""


def install_warnings(api: client.ApiClient) -> list[str]:
    """The `Warning` headers the API server answers a fresh install of the CanaryRelease CRD with (a dry run of a
    copy under another group: a first install, not an update of the installed one, and nothing changes)."""
    crd = copy.deepcopy(build_crd())
    plural = crd["spec"]["names"]["plural"]
    crd["spec"]["group"] = COPY_GROUP
    crd["metadata"]["name"] = f"{plural}.{COPY_GROUP}"
    _, _, headers = client.ApiextensionsV1Api(api).create_custom_resource_definition_with_http_info(crd, dry_run="All")
    return [value for key, value in headers.items() if key.lower() == "warning"]


def admit_largest(api: client.ApiClient, namespace: str) -> list[Admission]:
    """Create each largest release in `namespace` (then delete it); how the API server answered."""
    custom = client.CustomObjectsApi(api)
    found: list[Admission] = []
    for routing, build in LARGEST.items():
        name = f"largest-{routing.lower().replace(' ', '-')}"
        body = {"apiVersion": "graygate.dev/v1alpha1", "kind": "CanaryRelease", "metadata": {"name": name}}
        spec = build()
        began = time.monotonic()
        try:
            custom.create_namespaced_custom_object(**RELEASES, namespace=namespace, body={**body, "spec": spec})
        except ApiException as error:
            message = str(json.loads(error.body or "{}").get("message") or error.reason)
            found.append(Admission(routing, len(json.dumps(spec)), False, time.monotonic() - began, message[:500]))
            continue
        found.append(Admission(routing, len(json.dumps(spec)), True, time.monotonic() - began, ""))
        custom.delete_namespaced_custom_object(**RELEASES, namespace=namespace, name=name)
    return found


def summary(warnings: list[str], admissions: list[Admission]) -> list[str]:
    lines = [f"CRD install (dry run of a fresh copy): {len(warnings)} warning(s){': ' if warnings else ''}"]
    lines += [f"    {warning}" for warning in warnings]
    for seen in admissions:
        verdict = "admitted" if seen.admitted else f"REFUSED: {seen.answer}"
        lines.append(
            f"largest {seen.routing} release ({seen.size_bytes / 1024:.0f} KiB): {verdict} in {seen.seconds:.2f} s"
        )
    return lines
