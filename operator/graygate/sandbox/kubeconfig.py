"""Writes the sandbox's kubeconfig: the same shape a real cluster hands out, so kubectl and clients need nothing
special (CA data inline, a bearer token, one context named `graygate-sandbox`)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

CONTEXT = "graygate-sandbox"


def write_kubeconfig(path: Path, server: str, ca_cert: Path, token: str, user: str = "sandbox-admin") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_cert.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user, "namespace": "default"}}],
        "current-context": CONTEXT,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
