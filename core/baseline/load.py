"""Loading a baseline file and resolving the effective settings for one workspace."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.baseline.model import BaselineDocument, Exemption, IPNetwork, Settings, parse_cidr
from core.baseline.profiles import profile_conf
from core.errors import InputError


class BaselineError(InputError):
    """A baseline that cannot be used; the message names file, field path and value."""


def format_loc(loc: Iterable[Any]) -> str:
    """('defaults', 'ip_access_lists', 'allow', 1) -> 'defaults.ip_access_lists.allow[1]'."""
    out = ""
    for part in loc:
        if part == "[key]":
            out += " (key)"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


_REPR = reprlib.Repr(maxlevel=3, maxdict=6, maxlist=6, maxtuple=6, maxset=6, maxstring=100, maxother=100,
                     maxlong=60)


def _short(value: Any) -> str:
    # Bounded repr: the input may be huge, deeply nested or share references (YAML aliases).
    text = _REPR.repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def validation_messages(source: str, exc: ValidationError) -> str:
    """One line per pydantic error: `file: field.path: message (value: ...)`."""
    lines = []
    for err in exc.errors():
        loc = format_loc(x for x in err["loc"] if x not in ("function-after", "function-before"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not in the driftwatch.baseline/v1 schema)"
        # notifications.routes[].webhook names a setting; a URL pasted there by mistake carries its `sig`.
        secret = bool(err["loc"]) and err["loc"][-1] == "webhook"
        value = "not shown: it may be a webhook URL" if secret else _short(err.get("input"))
        lines.append(f"{source}: {loc}: {msg} (value: {value})")
    return "\n".join(lines)


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key not in ("severity",):
            out[key] = _deep_merge(dict(out[key]), value)
        elif key == "severity" and isinstance(value, Mapping):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class WorkspaceIdentity:
    """What scope matching looks at: the workspace's place in Azure and its tags."""

    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EffectiveBaseline:
    """The settings that apply to one workspace, with CIDRs and ids pre-parsed for the rules."""

    settings: Settings
    sha256: str
    scopes: tuple[str, ...]
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Values pure consumers derive from these settings alone (e.g. the read plan in core/rules/plan.py),
    kept here because one EffectiveBaseline serves every workspace its scopes match: a 2,000-workspace
    sweep plans its reads once per scope set instead of several times per workspace."""

    @cached_property
    def disabled(self) -> frozenset[str]:
        return frozenset(self.settings.disabled_rules)

    def severity_for(self, rule_id: str, default: str) -> str:
        return self.settings.severity.get(rule_id, default)

    @cached_property
    def allow_networks(self) -> frozenset[IPNetwork] | None:
        ipacl = self.settings.ip_access_lists
        if ipacl is None or ipacl.allow is None:
            return None
        return frozenset(parse_cidr(c) for c in ipacl.allow)

    @cached_property
    def block_networks(self) -> tuple[IPNetwork, ...] | None:
        ipacl = self.settings.ip_access_lists
        if ipacl is None or ipacl.block is None:
            return None
        return tuple(parse_cidr(c) for c in ipacl.block)

    @cached_property
    def allowed_vnets(self) -> frozenset[str]:
        net = self.settings.network
        return frozenset(v.lower() for v in net.allowed_vnets) if net else frozenset()


@dataclass(frozen=True)
class ExemptionMatch:
    exemption: Exemption
    expired: bool

    def record(self) -> dict[str, Any]:
        rec = self.exemption.as_record()
        rec["expired"] = self.expired
        return rec


class Baseline:
    """A validated baseline: defaults, scopes in order, exemptions, and its canonical sha256."""

    def __init__(self, document: BaselineDocument, source: str = "<baseline>") -> None:
        self.document = document
        self.source = source
        canonical = json.dumps(document.model_dump(mode="json", by_alias=True, exclude={"notifications"}),
                               sort_keys=True,
                               separators=(",", ":"))
        self.sha256 = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        self._cache: dict[tuple[int, ...], EffectiveBaseline] = {}
        self._exemptions = [
            (e, e.rule, e.resource.lower(), e.subject.lower() if e.subject else None)
            for e in document.exemptions
        ]

    def _scope_matches(self, idx: int, ws: WorkspaceIdentity) -> bool:
        return self.document.scopes[idx].match.matches(subscription_id=ws.subscription_id,
                                                       resource_group=ws.resource_group, name=ws.name, tags=ws.tags)

    def effective_for(self, ws: WorkspaceIdentity) -> EffectiveBaseline:
        """Defaults with every matching scope's `set` merged over them, in order (later wins)."""
        matched = tuple(i for i in range(len(self.document.scopes)) if self._scope_matches(i, ws))
        cached = self._cache.get(matched)
        if cached is not None:
            return cached
        merged = self.document.defaults.model_dump(mode="json", exclude_unset=True)
        for i in matched:
            merged = _deep_merge(merged, self.document.scopes[i].set.model_dump(mode="json", exclude_unset=True))
        profile = merged.get("workspace_conf_profile")
        if profile:  # the profile's keys under the baseline's own workspace_conf (explicit keys win)
            merged["workspace_conf"] = {**profile_conf(profile), **(merged.get("workspace_conf") or {})}
        settings = Settings.model_validate(merged)
        eff = EffectiveBaseline(settings=settings, sha256=self.sha256,
                                scopes=tuple(self.document.scopes[i].name for i in matched))
        self._cache[matched] = eff
        return eff

    def exemption_for(self, rule_id: str, resource_id: str, subject: str | None,
                      today: date) -> ExemptionMatch | None:
        """The first exemption covering this finding; an expired one is reported as such.

        A live exemption wins over an expired one so renewing by appending works.
        """
        rid = resource_id.lower()
        subj = (subject or "").lower()
        expired: ExemptionMatch | None = None
        for exemption, rule, resource, e_subject in self._exemptions:
            if rule != rule_id:
                continue
            if resource != rid and not fnmatch.fnmatchcase(rid, resource):
                continue
            if e_subject is not None and e_subject != subj and not fnmatch.fnmatchcase(subj, e_subject):
                continue
            if exemption.expires >= today:
                return ExemptionMatch(exemption, expired=False)
            expired = expired or ExemptionMatch(exemption, expired=True)
        return expired


def parse_baseline(data: Any, source: str = "<baseline>") -> Baseline:
    if not isinstance(data, dict):
        raise BaselineError(f"{source}: (document): expected a mapping with schema driftwatch.baseline/v1, "
                            f"got {type(data).__name__}")
    try:
        document = BaselineDocument.model_validate(data)
    except ValidationError as exc:
        raise BaselineError(validation_messages(source, exc)) from None
    return Baseline(document, source)


class _DuplicateKey(yaml.YAMLError):
    """A mapping that names the same key twice: YAML says keys are unique, PyYAML keeps the last silently."""

    def __init__(self, key: Any, first_line: int, second_line: int) -> None:
        super().__init__(f"duplicate key {_short(key)} on line {first_line} and line {second_line}")
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (a second `defaults:` would silently replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges are explicit overrides, not duplicates
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader itself reports unhashable keys
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_baseline(path: str | Path) -> Baseline:
    """Read a YAML or JSON baseline; any problem raises BaselineError naming file, field and value."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{p}: cannot read ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass; JSON is YAML too
    except _DuplicateKey as exc:
        raise BaselineError(f"{p}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BaselineError(f"{p}: {where}not valid YAML/JSON ({problem})") from None
    except RecursionError:
        raise BaselineError(f"{p}: not valid YAML/JSON (nested too deeply)") from None
    except ValueError as exc:  # scalar constructors: a date like 2027-13-45, an integer over 4300 digits
        raise BaselineError(f"{p}: not valid YAML/JSON ({str(exc)[:200]})") from None
    return parse_baseline(data, str(p))
