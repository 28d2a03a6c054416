"""Findings queries: filters with bound parameters, opaque continuation tokens, get/history, counts, summary.

Reads only; the API, the CLI and the notify cards call them through `TableFindingsStore`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from core.arm_ids import arm_fold
from core.findings.model import Finding
from core.findings.transition import Transition
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, storage_call
from core.store.errors import FindingNotFound, InvalidContinuation, InvalidQuery
from core.store.keys import get_json, resource_key, utc
from core.store.rows import FindingRows
from core.store.summary import CountersUnavailable
from core.terms import RULE_ID_RE as RULE_RE
from core.terms import SEVERITIES, STATUSES

FINDING_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _encode_token(token: Any, query_hash: str) -> str:
    doc = {"v": 1, "q": query_hash, "t": token}
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True)
    check = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(json.dumps({"d": doc, "c": check}, separators=(",", ":")).encode()).decode()


def _decode_token(text: str, query_hash: str) -> dict[str, str]:
    """Parse an opaque token; anything not produced by `_encode_token` for this query is refused."""
    if len(text) > 4096:
        raise InvalidContinuation()
    try:
        outer = json.loads(base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4)))
        doc, check = outer["d"], outer["c"]
        raw = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        if hashlib.sha256(raw.encode()).hexdigest()[:16] != check or doc.get("v") != 1:
            raise InvalidContinuation()
        token = doc["t"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InvalidContinuation() from None
    if doc.get("q") != query_hash:
        raise InvalidContinuation("continuation token belongs to a different query")
    if not isinstance(token, dict) or not token or not set(token) <= {"PartitionKey", "RowKey", "offset"} \
            or not all(isinstance(v, str) and len(v) <= 1024 for v in token.values()):
        raise InvalidContinuation()
    return token


class FindingQueries(FindingRows):
    """Reads of current findings (mixed into `TableFindingsStore`)."""

    def workspaces_with_findings(self) -> dict[str, str]:
        """`arm_fold`ed id -> ARM id of every resource with an open or exempted finding (one query).

        What the sweep checks against its listing to find workspaces whose delete event was lost."""
        with storage_call("query", FINDINGS_TABLE):
            entities = list(self.findings_table.query_entities("status eq 'open' or status eq 'exempted'"))
        out: dict[str, str] = {}
        for e in entities:
            rid = str(get_json(e, "finding").get("resource_id") or e.get("resource_id") or "")
            if rid:
                out.setdefault(arm_fold(rid), rid)
        return out


    @staticmethod
    def _filter(status: str | None, severity: str | None, rule: str | None, workspace: str | None,
                subscription: str | None, since: datetime | None) -> tuple[str, dict[str, Any]]:
        """An OData filter with bound parameters only: user input never becomes filter syntax."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if status is not None:
            if status not in STATUSES:
                raise InvalidQuery("status", f"status must be one of {', '.join(STATUSES)}")
            clauses.append("status eq @status")
            params["status"] = status
        if severity is not None:
            if severity not in SEVERITIES:
                raise InvalidQuery("severity", f"severity must be one of {', '.join(SEVERITIES)}")
            clauses.append("severity eq @severity")
            params["severity"] = severity
        if rule is not None:
            if not RULE_RE.match(rule):
                raise InvalidQuery("rule", "rule must look like DBX-XXX-000")
            clauses.append("rule_id eq @rule")
            params["rule"] = rule
        if workspace is not None:
            ws = workspace.strip()
            if not ws or len(ws) > 1024:
                raise InvalidQuery("workspace", "workspace must be a workspace ARM id or name")
            if "/" in ws:
                clauses.append("PartitionKey eq @wspk")
                params["wspk"] = resource_key(ws)
            else:
                clauses.append("workspace_name_lc eq @wsname")
                params["wsname"] = arm_fold(ws)
        if subscription is not None:
            sub = arm_fold(subscription)
            if not sub or len(sub) > 128:
                raise InvalidQuery("subscription", "subscription must be a subscription id")
            clauses.append("subscription_id eq @sub")
            params["sub"] = sub
        if since is not None:
            clauses.append("last_seen ge @since")
            params["since"] = utc(since)
        return " and ".join(clauses), params

    def query(self, status: str | None = None, severity: str | None = None, rule: str | None = None,
              workspace: str | None = None, subscription: str | None = None, since: datetime | None = None,
              top: int = 100, continuation: str | None = None) -> tuple[list[Finding], str | None]:
        """One page of findings matching all given filters, and an opaque token for the next page."""
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 1000:
            raise InvalidQuery("top", "top must be an integer from 1 to 1000")
        flt, params = self._filter(status, severity, rule, workspace, subscription, since)
        qhash = hashlib.sha256(json.dumps([flt, {k: str(v) for k, v in params.items()}],
                                          sort_keys=True).encode()).hexdigest()[:16]
        token = _decode_token(continuation, qhash) if continuation else None
        found: list[Finding] = []
        with storage_call("query", FINDINGS_TABLE):
            while True:
                if flt:
                    pager = self.findings_table.query_entities(flt, parameters=params, results_per_page=top)
                else:
                    pager = self.findings_table.list_entities(results_per_page=top)
                pages = pager.by_page(continuation_token=token)  # type: ignore[arg-type]  # tables use a dict
                page = next(pages, None)
                found = [Finding.from_json_dict(get_json(e, "finding")) for e in (page or [])]
                token = getattr(pages, "continuation_token", None)
                if found or not token:  # the service may return an empty page with a token: keep going
                    break
        return found, (_encode_token(token, qhash) if token else None)

    def export(self, status: str | None = None, severity: str | None = None, rule: str | None = None,
               workspace: str | None = None, subscription: str | None = None,
               since: datetime | None = None) -> Iterator[Finding]:
        """Every matching finding, page by page (for CSV/JSON exports)."""
        token: str | None = None
        while True:
            page, token = self.query(status, severity, rule, workspace, subscription, since, top=1000,
                                     continuation=token)
            yield from page
            if token is None:
                return

    def get(self, finding_id: str) -> tuple[Finding, list[Transition]]:
        """A finding and its history, oldest first."""
        if not FINDING_ID_RE.match(finding_id or ""):
            raise FindingNotFound(finding_id)
        with storage_call("query", HISTORY_TABLE):
            hist = list(self.history_table.query_entities("PartitionKey eq @id", parameters={"id": finding_id}))
        history = [Transition.from_message(get_json(e, "message")) for e in sorted(hist, key=lambda e: e["RowKey"])]
        pk = resource_key(hist[0]["resource_id"]) if hist else self._locate(finding_id)
        row = self._load_one(pk, finding_id) if pk else None
        if row is None:
            raise FindingNotFound(finding_id)
        return row.finding, history

    def history(self, finding_id: str) -> list[Transition]:
        return self.get(finding_id)[1]

    def open_counts(self, resource_id: str) -> tuple[dict[str, int], int]:
        """One workspace's standing now: open findings by severity, and how many are exempted
        (a Teams card states it after each change)."""
        by_severity: Counter[str] = Counter()
        exempted = 0
        with storage_call("query", FINDINGS_TABLE):
            pk = resource_key(resource_id)
            for e in self.findings_table.query_entities("PartitionKey eq @pk", parameters={"pk": pk},
                                                        select=["status", "severity"]):
                if e.get("status") == "open":
                    by_severity[str(e.get("severity"))] += 1
                elif e.get("status") == "exempted":
                    exempted += 1
        return {s: by_severity[s] for s in SEVERITIES}, exempted

    def summary(self) -> dict[str, Any]:
        """Counts by status, severity, rule and workspace, from the maintained counters; when they cannot be
        trusted (never built, a row missing or unreadable) counted from the findings table, with a warning."""
        import logging

        try:
            return self.counters.read()
        except CountersUnavailable as exc:
            logging.getLogger(__name__).warning("%s: counting from the findings table instead "
                                                "(run `driftwatch findings rebuild-summary`)", exc)
        return self.summary_by_scan()

    def summary_by_scan(self) -> dict[str, Any]:
        """The summary counted over the whole findings table (what the counters must equal)."""
        by_status: Counter[str] = Counter()
        by_severity: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        by_workspace: Counter[str] = Counter()
        open_by_severity: Counter[str] = Counter()
        with storage_call("query", FINDINGS_TABLE):
            for e in self.findings_table.list_entities(select=["status", "severity", "rule_id", "resource_id"]):
                by_status[e["status"]] += 1
                by_severity[e["severity"]] += 1
                by_rule[e["rule_id"]] += 1
                by_workspace[e["resource_id"]] += 1
                if e["status"] == "open":
                    open_by_severity[e["severity"]] += 1
        return {
            "schema": "driftwatch.findings-summary/v1",
            "total": sum(by_status.values()),
            "by_status": {s: by_status[s] for s in STATUSES},
            "by_severity": {s: by_severity[s] for s in SEVERITIES},
            "open_by_severity": {s: open_by_severity[s] for s in SEVERITIES},
            "by_rule": dict(sorted(by_rule.items())),
            "by_workspace": dict(sorted(by_workspace.items())),
        }
