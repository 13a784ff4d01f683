"""The Prometheus metric provider: the one module that imports `prometheus_api_client`.

Why it is built this way:

* The client is blocking (`requests` underneath), so every call runs in a worker thread (`asyncio.to_thread`) and
  a slow Prometheus never stalls the operator's event loop. A backstop `wait_for` bounds the call even if the
  client's own timeout (applied per connect and per read) lets it run longer.
* Nothing is retried here: the client's default retries (three, with back-off) would hold an analysis for
  seconds on a dead address. The next analysis is the retry.
* A failure is an answer, not an exception: refused, timed out, 401, 400 (a query Prometheus rejected), 5xx and
  a body that is not Prometheus's JSON each become a `MetricReading` with a `QueryFailure` word and the server's own
  message, which the domain turns into an `Error` verdict. Only a closed provider raises.
* One client per query, closed right after: credentials come fresh from their Secrets at every analysis, so a
  rotated token takes effect at once, and no session is shared between threads. A CA bundle is written once per
  distinct bundle to a private temporary directory (the client takes a file path) and removed on `close()`.
* The evaluation time is the `now` passed in, never the clock.
* A server that echoes the credentials it got (an auth proxy's "token X not accepted") would put a Secret's value
  in the status, Events, notifications and logs: every credential of the source (the token, the password, the user
  name, the encoded basic pair) is replaced by `<secret>` in a failure's message and in the series' labels, before
  the message is cut to its length bound (a cut value would no longer be found).
* No redirect is followed (a 3xx is reported as the answer), and connections go only to addresses the operator's
  address rules accept, checked after resolution (`checked_session`); a refusal is an `Unreachable` reading saying
  why.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from graygate.domain.outbound import AddressRules
from graygate.errors import ProviderError
from graygate.ports.metrics import MetricReading, MetricSeries, MetricSource, QueryFailure
from graygate.providers.checked_session import (
    AnswerTooLarge,
    Lookup,
    checked_adapter,
    refusal_in,
    session,
    system_lookup,
)

__all__ = ["PrometheusProvider"]

_STATUS = re.compile(r"HTTP Status Code (\d+) \((b(?:'.*'|\".*\"))\)$", re.DOTALL)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_BACKSTOP_S = 1.0
SECRET = "<secret>"
"""What a credential echoed by the server is replaced with."""
_SHORTEST_HIDDEN_NAME = 4
"""A user name shorter than this is not hidden: it cannot be told from the ordinary words of a message."""


class _Unexpected(Exception):
    """The answer is not shaped like a Prometheus instant query's; `kind` says whose fault that is."""

    def __init__(self, message: str, kind: QueryFailure = QueryFailure.BAD_RESPONSE) -> None:
        super().__init__(message)
        self.kind = kind


class PrometheusProvider:
    """Instant queries against Prometheus's HTTP API; satisfies `graygate.ports.MetricProvider`."""

    def __init__(self, rules: AddressRules | None = None, lookup: Lookup = system_lookup) -> None:
        self._rules = rules or AddressRules()
        self._lookup = lookup
        self._ca_dir: Path | None = None
        self._closed = False

    async def query(self, source: MetricSource, promql: str, now: datetime) -> MetricReading:
        """Evaluate `promql` at `now`; every failure is returned as a `MetricReading`, never raised."""
        if self._closed:
            raise ProviderError("the Prometheus provider is closed; create a new one")
        ca_file = self._ca_file(source.ca_pem) if source.ca_pem else None
        call = asyncio.to_thread(_query, source, promql, now, ca_file, self._rules, self._lookup)
        try:
            return await asyncio.wait_for(call, timeout=2 * source.timeout_s + _BACKSTOP_S)
        except TimeoutError:
            return _failed(promql, QueryFailure.TIMEOUT, f"no answer from {source.address} in {source.timeout_s:g}s")

    async def close(self) -> None:
        """Remove the CA files; the provider cannot query afterwards."""
        self._closed = True
        if self._ca_dir is not None:
            shutil.rmtree(self._ca_dir, ignore_errors=True)
            self._ca_dir = None

    def _ca_file(self, pem: str) -> Path:
        if self._ca_dir is None:
            self._ca_dir = Path(tempfile.mkdtemp(prefix="graygate-ca-"))
        path = self._ca_dir / f"{hashlib.sha256(pem.encode()).hexdigest()[:32]}.pem"
        if not path.exists():
            partial = path.with_suffix(".tmp")
            partial.write_text(pem, encoding="utf-8")
            partial.replace(path)
        return path


def _connect(source: MetricSource, ca_file: Path | None, rules: AddressRules, lookup: Lookup) -> PrometheusConnect:
    retry = Retry(total=0, raise_on_status=False)
    http = session(rules, lookup, max_retries=retry)
    http.verify = str(ca_file) if ca_file is not None else True
    headers = dict(source.headers)
    if source.bearer_token is not None:
        headers["Authorization"] = f"Bearer {source.bearer_token}"
    if source.basic_auth is not None:
        http.auth = (source.basic_auth.username, source.basic_auth.password)
    timeout: Any = source.timeout_s  # the client annotates `int`; requests takes any float, and 500ms is valid
    url = source.address.rstrip("/")
    client = PrometheusConnect(url=url, headers=headers, retry=retry, session=http, timeout=timeout)
    # The client mounts a plain adapter on its own URL; ours goes back over it.
    http.mount(url, checked_adapter(rules, lookup, max_retries=retry))
    return client


def _query(
    source: MetricSource, promql: str, now: datetime, ca_file: Path | None, rules: AddressRules, lookup: Lookup
) -> MetricReading:
    """The blocking part, run in a worker thread; what the server said, without the source's credentials."""
    hidden = credentials(source)
    return _hide_in_reading(_ask(source, promql, now, ca_file, rules, lookup, hidden), hidden)


def _ask(
    source: MetricSource,
    promql: str,
    now: datetime,
    ca_file: Path | None,
    rules: AddressRules,
    lookup: Lookup,
    hidden: tuple[str, ...],
) -> MetricReading:
    client = _connect(source, ca_file, rules, lookup)
    where = source.address
    params = {"time": f"{now.timestamp():.3f}", "timeout": f"{source.timeout_s:g}"}
    try:
        raw = client.custom_query(promql, params=params)
        return MetricReading(query=promql, samples=_samples(raw))
    except AnswerTooLarge as e:
        return _failed(promql, QueryFailure.BAD_RESPONSE, f"{where}: {e}")
    except RecursionError:
        return _failed(promql, QueryFailure.BAD_RESPONSE, f"{where} answered JSON nested deeper than graygate reads")
    except requests.Timeout:
        return _failed(promql, QueryFailure.TIMEOUT, f"no answer from {where} in {source.timeout_s:g}s")
    except requests.exceptions.SSLError as e:
        return _failed(promql, QueryFailure.UNREACHABLE, f"TLS with {where} failed: {_short(e)}")
    except requests.ConnectionError as e:
        if (refused := refusal_in(e)) is not None:
            return _failed(promql, QueryFailure.UNREACHABLE, f"{where} was not called: {refused}")
        if _read_timed_out(e):
            return _failed(promql, QueryFailure.TIMEOUT, f"no answer from {where} in {source.timeout_s:g}s")
        return _failed(promql, QueryFailure.UNREACHABLE, f"cannot connect to {where}: {_short(e)}")
    except PrometheusApiClientException as e:
        return _http_failure(promql, where, str(e), hidden)
    except _Unexpected as e:
        return _failed(promql, e.kind, str(e) if e.kind is QueryFailure.REJECTED else f"{where}: {e}")
    except (requests.exceptions.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        return _failed(promql, QueryFailure.BAD_RESPONSE, f"{where} did not answer like Prometheus: {_short(e)}")
    except requests.RequestException as e:
        return _failed(promql, QueryFailure.UNREACHABLE, f"request to {where} failed: {_short(e)}")
    finally:
        client.close()


def _samples(raw: object) -> tuple[MetricSeries, ...]:
    """The samples of `data.result`: a vector (a list of series) or a scalar (`[time, "value"]`)."""
    if not isinstance(raw, list):
        raise _Unexpected(f"did not answer like Prometheus: the result is a {type(raw).__name__}")
    if len(raw) == 2 and not isinstance(raw[0], dict):
        return (MetricSeries(labels=(), value=_number(raw[1])),)
    samples = []
    for series in raw:
        if not isinstance(series, dict):
            raise _Unexpected("did not answer like Prometheus: a series is not an object")
        if "values" in series:
            raise _Unexpected("the query gives a range vector; it must give one number", QueryFailure.REJECTED)
        labels = tuple(sorted((str(k), str(v)) for k, v in dict(series.get("metric", {})).items()))
        samples.append(MetricSeries(labels=labels, value=_number(series["value"][1])))
    return tuple(samples)


def credentials(source: MetricSource) -> tuple[str, ...]:
    """The values a server's answer must not be allowed to carry into a message, longest first (a value inside
    another is replaced after it)."""
    values = {source.bearer_token or ""}
    if source.basic_auth is not None:
        username, password = source.basic_auth.username, source.basic_auth.password
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        values |= {password, pair, username if len(username) >= _SHORTEST_HIDDEN_NAME else ""}
    return tuple(sorted(values - {""}, key=len, reverse=True))


def hide(text: str, values: tuple[str, ...]) -> str:
    for value in values:
        text = text.replace(value, SECRET)
    return text


def _hide_in_reading(reading: MetricReading, values: tuple[str, ...]) -> MetricReading:
    if not values:
        return reading
    samples = tuple(
        MetricSeries(labels=tuple((name, hide(value, values)) for name, value in series.labels), value=series.value)
        for series in reading.samples
    )
    return dataclasses.replace(reading, message=hide(reading.message, values), samples=samples)


def _number(text: object) -> float:
    """Prometheus writes values as strings: `"0.5"`, `"NaN"`, `"+Inf"`."""
    return float(str(text))


def _http_failure(promql: str, where: str, message: str, hidden: tuple[str, ...]) -> MetricReading:
    """The client's exception text is `HTTP Status Code 400 (b'<body>')`: recover the status and what the body
    says (Prometheus's JSON `error`, else the body's beginning), without the values in `hidden`."""
    status, said = 0, hide(message, hidden)[:300]
    if match := _STATUS.search(message):
        status = int(match.group(1))
        said = _said(match.group(2), hidden)
    if 300 <= status < 400:
        return _failed(
            promql, QueryFailure.SERVER, f"{where} answered HTTP {status}, a redirect, which is not followed"
        )
    if status in (401, 403):
        kind = QueryFailure.UNAUTHORIZED
    elif status in (400, 422):
        kind = QueryFailure.REJECTED
    else:
        kind = QueryFailure.SERVER
    return _failed(promql, kind, f"{where} answered HTTP {status}: {said}")


def _said(body_repr: str, hidden: tuple[str, ...]) -> str:
    try:
        body = ast.literal_eval(body_repr)
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    except (ValueError, SyntaxError):
        return hide(body_repr, hidden)[:300]
    try:
        said = json.loads(text).get("error")
    except (ValueError, AttributeError):
        said = None
    return hide(str(said), hidden) if said else hide(" ".join(text.split()), hidden)[:300]


def _read_timed_out(error: requests.ConnectionError) -> bool:
    """With retries off, urllib3 wraps a read timeout in `MaxRetryError`, which requests reports as a connection
    error; the timeout is its `reason`."""
    wrapped = error.args[0] if error.args else None
    return isinstance(getattr(wrapped, "reason", None), ReadTimeoutError)


def _short(error: BaseException) -> str:
    """The useful end of a `requests` error (`Connection refused`), not its whole chain of wrappers."""
    text = str(error)
    errno = _ERRNO.search(text)
    if errno:
        return errno.group(1).strip()
    return text[:300] or type(error).__name__


def _failed(promql: str, kind: QueryFailure, message: str) -> MetricReading:
    return MetricReading(query=promql, failure=kind, message=message)
