"""The store's plain data: settings that refuse half a configuration, a content hash that cannot be fooled by
framing, the prefix range etcd reads, and the guards a keys snapshot gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graygate.store import EtcdSettings, KeysSnapshot, RestoreConflict, Versioned, content_hash
from graygate.store.etcd.store import prefix_range_end


@pytest.mark.parametrize(
    ("endpoint", "split"),
    [
        pytest.param("127.0.0.1:2379", ("127.0.0.1", 2379), id="ipv4"),
        pytest.param("etcd-0.etcd.svc:2379", ("etcd-0.etcd.svc", 2379), id="dns-name"),
        pytest.param("[::1]:2379", ("::1", 2379), id="ipv6"),
        pytest.param("http://etcd-0.etcd.svc:2379", ("etcd-0.etcd.svc", 2379), id="http-url"),
        pytest.param("https://etcd-0.etcd.svc:2379", ("etcd-0.etcd.svc", 2379), id="https-url"),
        pytest.param("HTTPS://etcd:2379/", ("etcd", 2379), id="url-with-final-slash"),
        pytest.param("https://[::1]:2379", ("::1", 2379), id="ipv6-url"),
    ],
)
def test_endpoints_are_host_and_port(endpoint: str, split: tuple[str, int]) -> None:
    assert EtcdSettings.split(endpoint) == split


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"endpoints": ()}, "at least one endpoint", id="no-endpoint"),
        pytest.param({"endpoints": ("grpc://etcd:2379",)}, "only http:// and https://", id="other-scheme"),
        pytest.param({"endpoints": ("https://etcd:2379/v3",)}, "not host:port", id="url-with-a-path"),
        pytest.param({"endpoints": ("https://etcd",)}, "not host:port", id="url-without-port"),
        pytest.param({"endpoints": ("https://etcd:2379",)}, "need ca_file", id="https-without-ca"),
        pytest.param(
            {"endpoints": ("http://etcd:2379",), "ca_file": Path("ca.crt")}, "use https://", id="http-with-ca"
        ),
        pytest.param(
            {"endpoints": ("https://a:2379", "http://b:2379"), "ca_file": Path("ca.crt")}, "mix", id="mixed-schemes"
        ),
        pytest.param({"endpoints": ("etcd",)}, "not host:port", id="no-port"),
        pytest.param({"endpoints": ("http://root@etcd:2379",)}, "not host:port", id="user-information"),
        pytest.param({"endpoints": ("etcd:0",)}, "not host:port", id="port-zero"),
        pytest.param({"endpoints": ("etcd:70000",)}, "not host:port", id="port-too-big"),
        pytest.param({"cert_file": Path("c.pem")}, "both cert_file and key_file", id="cert-without-key"),
        pytest.param(
            {"cert_file": Path("c.pem"), "key_file": Path("k.pem")}, "needs ca_file", id="client-cert-without-ca"
        ),
        pytest.param({"username": "root"}, "both username and password", id="user-without-password"),
        pytest.param({"dial_timeout_s": 0}, "positive", id="zero-timeout"),
    ],
)
def test_settings_refuse_half_a_configuration(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EtcdSettings(**{"endpoints": ("127.0.0.1:2379",), **fields})


@pytest.mark.parametrize(
    ("endpoints", "ca_file"),
    [
        pytest.param(("https://a:2379", "b:2379"), Path("ca.crt"), id="https-and-bare-with-tls"),
        pytest.param(("http://a:2379", "b:2379"), None, id="http-and-bare-without-tls"),
        pytest.param(("a:2379",), Path("ca.crt"), id="bare-with-tls"),
    ],
)
def test_a_scheme_agrees_with_the_tls_settings(endpoints: tuple[str, ...], ca_file: Path | None) -> None:
    assert EtcdSettings(endpoints=endpoints, ca_file=ca_file).endpoints == endpoints


def test_the_password_is_not_in_the_repr() -> None:
    settings = EtcdSettings(endpoints=("127.0.0.1:2379",), username="root", password="s3cret")
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param({"a": "1\nb=2"}, {"a": "1", "b": "2"}, id="newline-and-equals-in-a-value"),
        pytest.param({"a=": "1"}, {"a": "=1"}, id="equals-moved-between-key-and-value"),
        pytest.param({"a": ""}, {}, id="empty-value-is-not-absent"),
        pytest.param({"a": "1"}, {"a": "2"}, id="different-value"),
    ],
)
def test_different_contents_hash_differently(left: dict[str, str], right: dict[str, str]) -> None:
    assert content_hash(left) != content_hash(right)


def test_the_hash_ignores_order_and_is_stable() -> None:
    assert content_hash({"b": "2", "a": "1"}) == content_hash({"a": "1", "b": "2"})
    assert content_hash({}) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        pytest.param(b"/config/", b"/config0", id="plain"),
        pytest.param(b"a\xff", b"b", id="trailing-ff-is-carried"),
        pytest.param(b"\xff\xff", b"\0", id="all-ff-means-to-the-end"),
        pytest.param(b"", b"\0", id="empty-means-everything"),
    ],
)
def test_prefix_range_end(prefix: bytes, end: bytes) -> None:
    assert prefix_range_end(prefix) == end


def test_a_conflict_says_what_happened() -> None:
    conflict = RestoreConflict(key="/flags/x", expected_revision=7, actual_revision=9, actual_value="on")
    assert str(conflict) == "/flags/x was rewritten at revision 9 after graygate wrote it at revision 7; left as is"


def test_a_keys_snapshot_gives_the_guards_of_a_guarded_apply() -> None:
    snapshot = KeysSnapshot(revision=9, entries={"/a": Versioned("1", 7), "/b": None})
    assert snapshot.mod_revisions == {"/a": 7, "/b": 0}
