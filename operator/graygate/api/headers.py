"""Extra HTTP request headers as a manifest field: names checked against RFC 9110's token grammar, bounded in number.

Why a module of its own: the probe gate and the Prometheus source both let a user add headers, and both must refuse
the same bad names with the same words.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["MAX_HEADERS", "Headers", "check_header_names"]

MAX_HEADERS = 32
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def check_header_names(headers: dict[str, str]) -> dict[str, str]:
    """Refuse names that are not HTTP tokens; return the headers unchanged."""
    bad = sorted(name for name in headers if not _HEADER_NAME.fullmatch(name))
    if bad:
        raise ValueError(f"not valid HTTP header names: {', '.join(bad)}")
    return headers


Headers = Annotated[dict[str, str], AfterValidator(check_header_names)]
"""Header name to value; give the field `json_schema_extra={"maxProperties": MAX_HEADERS}`."""
