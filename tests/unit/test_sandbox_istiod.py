"""istiod's command line and the webhook's certificate, without running istiod: every address it is told to listen on
is loopback, and the certificate the API server checks is valid for the address it calls and chains to the CA the
webhook registration carries."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509

from graygate.sandbox import istiod

PORTS = istiod.IstiodPorts(xds=15010, http=8080, webhook=15017, monitoring=15014)


def test_every_address_istiod_listens_on_is_loopback_and_the_secure_xds_port_is_off(tmp_path: Path) -> None:
    tls = istiod.WebhookTls(ca_cert=tmp_path / "ca.crt", cert=tmp_path / "tls.crt", key=tmp_path / "tls.key")
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in istiod.arguments(tmp_path, tmp_path, PORTS, tls)[1:])
    addresses = {name: value for name, value in flags.items() if name.endswith("Addr")}
    assert set(addresses) == {"grpcAddr", "httpAddr", "httpsAddr", "monitoringAddr", "secureGRPCAddr"}
    assert addresses.pop("secureGRPCAddr") == ""
    assert {value.rsplit(":", 1)[0] for value in addresses.values()} == {"127.0.0.1"}
    # ControlZ cannot be switched off: its address must be pinned too, on a port the kernel picks.
    assert (flags["ctrlz_address"], flags["ctrlz_port"]) == ("127.0.0.1", "0")


def test_the_webhook_certificate_names_the_address_the_api_server_calls_and_chains_to_the_registered_ca(
    tmp_path: Path,
) -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    tls = istiod.write_webhook_tls(tmp_path / "istiod", now)
    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(tls.ca_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert istiod.endpoints(PORTS).webhook_url.startswith("https://127.0.0.1:")
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    assert tls.key.stat().st_mode & 0o077 == 0, "the webhook's private key is readable by others"

    webhook = istiod.validating_webhook(istiod.endpoints(PORTS).webhook_url, tls.ca_cert.read_bytes())
    (registered,) = webhook["webhooks"]
    assert base64.b64decode(registered["clientConfig"]["caBundle"]) == tls.ca_cert.read_bytes()
    assert registered["failurePolicy"] == "Fail"
