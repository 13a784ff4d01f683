"""The default Prometheus's login: credentials the platform team mounts as files, read afresh at every analysis
(kubelet rewrites a mounted Secret in place), and sent only to the default address."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graygate.errors import GateError
from graygate.ports.metrics import BasicCredentials

__all__ = ["DefaultCredentials", "Login", "line"]

TOKEN_FILE, USERNAME_FILE, PASSWORD_FILE, CA_FILE = "token", "username", "password", "ca.crt"


@dataclass(frozen=True)
class Login:
    token: str | None = None
    basic: BasicCredentials | None = None
    ca_pem: str | None = None


@dataclass(frozen=True)
class DefaultCredentials:
    """The default Prometheus's credentials, as files in `folder` (the chart mounts `prometheus.credentialsSecret`
    there): `token` (a bearer token) or `username` and `password` (basic auth), and optionally `ca.crt` (the CA
    bundle that verifies an https:// Prometheus). Each file's final newline is ignored."""

    folder: Path

    def read(self) -> Login:
        """The files as they are now; GateError when the folder cannot be read or holds a half or double login."""
        if not self.folder.is_dir():
            raise GateError(f"the default Prometheus credentials folder {self.folder} does not exist")
        try:
            found = {
                name: (self.folder / name).read_text(encoding="utf-8")
                for name in (TOKEN_FILE, USERNAME_FILE, PASSWORD_FILE, CA_FILE)
                if (self.folder / name).is_file()
            }
        except OSError as e:
            raise GateError(f"cannot read the default Prometheus credentials in {self.folder}: {e}") from e
        has_user, has_password = USERNAME_FILE in found, PASSWORD_FILE in found
        if has_user != has_password:
            raise GateError(f"{self.folder} has only one of {USERNAME_FILE} and {PASSWORD_FILE}; basic auth needs both")
        if TOKEN_FILE in found and has_user:
            raise GateError(f"{self.folder} has both {TOKEN_FILE} and {USERNAME_FILE}/{PASSWORD_FILE}: keep one")
        basic = None
        if has_user:
            basic = BasicCredentials(username=line(found[USERNAME_FILE]), password=line(found[PASSWORD_FILE]))
        token = line(found[TOKEN_FILE]) if TOKEN_FILE in found else None
        return Login(token=token, basic=basic, ca_pem=found.get(CA_FILE))


def line(value: str) -> str:
    """A credential as kubectl's `--from-file` stores it, without the file's final newline."""
    return value.rstrip("\r\n")
