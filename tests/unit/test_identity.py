"""Issue 10 §6: one identity for every ARM id (ARM's ordinal ignore-case = simple upper-case mapping).

ARM compares resource ids with .NET OrdinalIgnoreCase, a simple per-character upper-case mapping
(learn.microsoft.com/dotnet/api/system.stringcomparer.ordinalignorecase): KELVIN SIGN (U+212A) and `k`
are different names there, and so are `straße` and `strasse`. lower()/casefold() merged both pairs.
"""

from __future__ import annotations

import hashlib
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from core.arm_ids import arm_fold, same_arm_id
from core.events.topology import Topology
from core.findings.model import finding_id
from core.store.keys import resource_key

SUB = "/subscriptions/1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01"
KIOSK = f"{SUB}/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/dbw-kiosk"
KELVIN = f"{SUB}/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/dbw-\u212aiosk"
STRASSE_SZ = f"{SUB}/resourceGroups/rg-stra\u00dfe/providers/Microsoft.Databricks/workspaces/dbw"
STRASSE_SS = f"{SUB}/resourceGroups/rg-strasse/providers/Microsoft.Databricks/workspaces/dbw"

ascii_ids = st.text(alphabet=string.ascii_letters + string.digits + "/-_.()", max_size=80)
unicode_text = st.text(st.characters(codec="utf-8"), max_size=40)


def _legacy_finding_id(resource_id: str, rule_id: str, subject: str | None) -> str:
    """The formula before issue 10 (casefold), to show ASCII ids keep their finding ids."""
    key = "\x1f".join((resource_id.strip().casefold(), rule_id.upper(), (subject or "").strip().casefold()))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def test_kelvin_sign_is_not_k() -> None:
    assert not same_arm_id(KIOSK, KELVIN)
    assert finding_id(KIOSK, "DBX-NET-001", None) != finding_id(KELVIN, "DBX-NET-001", None)
    assert resource_key(KIOSK) != resource_key(KELVIN)
    topo = Topology()
    topo.add("/x/nsg-kiosk", KIOSK)
    assert topo.workspaces_for("/X/NSG-\u212aIOSK") == [] and topo.workspaces_for("/X/NSG-KIOSK") == [KIOSK]


def test_strasse_and_strasze_are_different_resource_groups() -> None:
    assert not same_arm_id(STRASSE_SZ, STRASSE_SS)
    assert finding_id(STRASSE_SZ, "DBX-WS-001", None) != finding_id(STRASSE_SS, "DBX-WS-001", None)
    assert resource_key(STRASSE_SZ) != resource_key(STRASSE_SS)
    assert same_arm_id(STRASSE_SZ, STRASSE_SZ.upper().replace("SS", "\u00df"))  # ß has no simple upper-case


@settings(max_examples=300)
@given(ascii_ids, st.sampled_from(["DBX-NET-001", "dbx-token-002"]), st.one_of(st.none(), ascii_ids))
def test_ascii_ids_keep_their_finding_ids_and_keys(rid: str, rule: str, subject: str | None) -> None:
    assert finding_id(rid, rule, subject) == _legacy_finding_id(rid, rule, subject)
    assert arm_fold(rid) == rid.strip().lower()
    assert resource_key(rid) == hashlib.sha256(rid.strip().lower().encode()).hexdigest()[:40]


@settings(max_examples=400)
@given(unicode_text)
def test_fold_is_arms_simple_upper_case_identity(text: str) -> None:
    folded = arm_fold(text)
    assert arm_fold(folded) == folded  # idempotent: a key is its own key
    assert len(folded) == len(text.strip())  # per character: never expands like ß -> SS
    for ch in text.strip():
        up = ch.upper()
        if len(up) == 1:
            assert arm_fold(ch) == arm_fold(up)  # simple mapping: equal to its upper case
        else:
            assert arm_fold(ch) != arm_fold(up)  # no full case folding (ß is not SS)
    assert same_arm_id(text, "".join(c.upper() if len(c.upper()) == 1 else c for c in text))


@settings(max_examples=300)
@given(unicode_text, unicode_text)
def test_ids_that_fold_differently_get_different_finding_ids(a: str, b: str) -> None:
    if arm_fold(a) != arm_fold(b):
        assert finding_id(a, "DBX-NET-001", None) != finding_id(b, "DBX-NET-001", None)
    else:
        assert finding_id(a, "DBX-NET-001", None) == finding_id(b, "DBX-NET-001", None)
