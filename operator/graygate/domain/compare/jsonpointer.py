"""JSON Pointers (RFC 6901): how a finding names the exact place in a document that broke.

Why: `/paths/~1users~1{id}/get/responses/200` is unambiguous where "the 200 of GET /users/{id}" is not: an
OpenAPI path contains `/`, a media type contains `/`, a property name may contain `~`. Escaping is `~` → `~0`
then `/` → `~1`; unescaping reverses it in the opposite order, as the RFC requires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["PointerError", "escape", "from_fragment", "join", "resolve", "split", "unescape"]


class PointerError(ValueError):
    """A pointer that is malformed or does not resolve in the document."""


def escape(token: str | int) -> str:
    """One reference token, escaped: `application/json` → `application~1json`."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """The inverse of `escape`."""
    return token.replace("~1", "/").replace("~0", "~")


def join(base: str, *tokens: str | int) -> str:
    """`base` (a pointer, "" for the whole document) extended by `tokens`, each escaped."""
    return base + "".join("/" + escape(token) for token in tokens)


def split(pointer: str) -> tuple[str, ...]:
    """The unescaped reference tokens of `pointer`; "" is the whole document."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerError(f"a JSON pointer starts with '/': {pointer!r}")
    return tuple(unescape(token) for token in pointer[1:].split("/"))


def resolve(document: object, pointer: str) -> object:
    """The value `pointer` names in `document`. A URI fragment (`#/components/...`) is percent-decoded first."""
    if pointer.startswith("#"):
        pointer = from_fragment(pointer)
    current = document
    for token in split(pointer):
        if isinstance(current, Mapping) and token in current:
            current = current[token]
        elif isinstance(current, Sequence) and not isinstance(current, str) and token.isdigit():
            index = int(token)
            if index >= len(current) or (token.startswith("0") and token != "0"):
                raise PointerError(f"{pointer!r}: no item {token}")
            current = current[index]
        else:
            raise PointerError(f"{pointer!r}: nothing at {token!r}")
    return current


def from_fragment(reference: str) -> str:
    """The pointer in a same-document URI reference: `#/components/schemas/Caf%C3%A9` → `/components/schemas/Café`.

    Only %XX decoding is needed, so it is done here: urllib is outside the pure core's allowed imports.
    """
    fragment = reference[1:] if reference.startswith("#") else reference
    raw = re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), fragment.encode())
    return raw.decode("utf-8", errors="replace")
