"""One line per log record: estate text (ids, names, reasons) cannot forge log lines.

Resource ids, names and event ids come from Event Grid, queue messages and ARM, i.e. from whoever may
write to the estate or the queue. A CR/LF in them would start a fake line in the Functions log stream,
a lone surrogate breaks the log encoder, and a 60 KB id floods it. Every record of driftwatch's own
loggers has its text escaped here, once, through the log-record factory (so it holds for every
logger under `driftwatch` whatever the call site passes).
"""

from __future__ import annotations

import logging
import re
from typing import Any

MAX_ARG_CHARS = 600
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
_OWN_PREFIXES = ("driftwatch", "core.", "functions.")


def escape_for_log(value: str, limit: int = MAX_ARG_CHARS) -> str:
    """CR/LF and other control characters as `\\r`/`\\n`/`\\xNN`, lone surrogates as `\\udcNN`, bounded length."""
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _UNSAFE.sub(lambda m: {"\r": "\\r", "\n": "\\n", "\t": "\\t"}.get(m.group(), f"\\x{ord(m.group()):02x}"
                                                                          if ord(m.group()) < 0x100
                                                                          else f"\\u{ord(m.group()):04x}"), text)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def _safe_arg(arg: Any) -> Any:
    if isinstance(arg, bool | int | float) or arg is None:
        return arg  # %d / %.1f keep working
    return escape_for_log(arg if isinstance(arg, str) else str(arg))


def _is_own(name: str) -> bool:
    return name == "driftwatch" or name.startswith(_OWN_PREFIXES)


_previous_factory: Any = logging.getLogRecordFactory()


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    if _is_own(record.name):
        if isinstance(record.msg, str):
            record.msg = escape_for_log(record.msg, 4 * MAX_ARG_CHARS)
        if isinstance(record.args, tuple):
            record.args = tuple(_safe_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _safe_arg(v) for k, v in record.args.items()}
    return record


LIBRARY_LOG_LEVELS: dict[str, int] = {
    "azure.core.pipeline.policies.http_logging_policy": logging.WARNING,
    "azure.identity": logging.WARNING,
    "urllib3": logging.WARNING,
    "databricks.sdk": logging.ERROR,
}
"""Set in code because host.json cannot do it: the host sees every Python record under the category
`Function.<name>.User` (learn.microsoft.com/azure/azure-functions/configure-monitoring, "Configure
categories"), so host.json keys named after Python loggers (`databricks.sdk`, ...) filter nothing.
Header-level HTTP logging (request URLs with `sig`, echoed error bodies) stays off in production."""


def install() -> None:
    """Idempotent: wrap the current record factory once; set the library log levels."""
    for name, level in LIBRARY_LOG_LEVELS.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)
    global _previous_factory
    current = logging.getLogRecordFactory()
    if current is _factory:
        return
    _previous_factory = current
    logging.setLogRecordFactory(_factory)

install()
