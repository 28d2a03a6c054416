"""ARM resource-id helpers on top of azure-mgmt-core's parser (pure functions, no I/O).

ARM ids are case-insensitive the way ARM compares them: .NET ordinal ignore-case, i.e. a simple
per-character upper-case mapping (no full case folding: `ß` stays `ß`, KELVIN SIGN stays itself and
is not `k`). `arm_fold` is that identity, and the one function every key, id, route and comparison
of an ARM id or name goes through.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.core.tools import is_valid_resource_id, parse_resource_id

__all__ = ["arm_fold", "is_valid_resource_id", "parent_id", "parse_arm_id", "parse_arm_id_lower", "same_arm_id"]

_ASCII_UPPER_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _simple_upper(ch: str) -> str:
    # Python's str.upper() is the *full* mapping (ß -> SS); where that is more than one character the
    # simple mapping is the character itself for every case that matters to ARM names (Latin ß, ŉ, ǰ...).
    up = ch.upper()
    return up if len(up) == 1 else ch


def arm_fold(text: str) -> str:
    """The identity of an ARM id or name: two strings are the same resource iff their folds are equal.

    Simple per-character upper-case mapping (as ARM's ordinal ignore-case), then ASCII A-Z written in
    lower case. The second step is injective on upper-cased text (it has no ASCII lower-case letters
    left) and keeps every key derived from an ASCII id byte-identical to the `str.lower()` keys stored
    before, so finding ids and table keys of ordinary ids do not change. Non-ASCII ids that lower()
    or casefold() merged with another id (`rg-straße`/`rg-strasse`, KELVIN SIGN/`k`) now get their own.
    """
    text = text.strip()
    if text.isascii():  # nearly every id: the per-character mapping is exactly str.lower() there
        return text.lower()
    return "".join(_simple_upper(ch) for ch in text).translate(_ASCII_UPPER_TO_LOWER)


def same_arm_id(a: str, b: str) -> bool:
    return arm_fold(a) == arm_fold(b)


def parse_arm_id(resource_id: str) -> dict[str, Any]:
    return dict(parse_resource_id(resource_id))


def parse_arm_id_lower(resource_id: str) -> dict[str, Any]:
    """parse_resource_id with every value folded by `arm_fold` (lower case for ASCII)."""
    return {k: (arm_fold(v) if isinstance(v, str) else v) for k, v in parse_resource_id(resource_id).items()}


def parent_id(resource_id: str) -> str:
    """The id one level up: `.../virtualNetworks/v/subnets/s` -> `.../virtualNetworks/v`."""
    return resource_id.rstrip("/").rsplit("/", 2)[0]
