"""One workspace's API families read in waves, each family failing on its own.

`one()` queues a family's read and `flush()` runs everything queued at once (`parallel.run_all`): a wave
holds the reads that do not depend on each other, the next wave those that use their answers. Each family
ends in `data` (its parsed value) or in `errors` (why it is unread: a malformed answer, the API's error,
or the workspace's time budget), so a 403 on one endpoint marks only that family unread. `part()` splits
one family into independent calls of the same wave; the family is read when all its parts are, else its
error is its first failing part's, as when the parts were read one after another.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from core.collect.parallel import run_all
from core.state.parse import StateError

BUDGET_SPENT = "not read: the workspace's time budget was spent"

_NOT_STARTED = object()
"""A part not read because the workspace's time budget was spent before it started."""


class FamilyReads:
    """The families of one workspace: queued reads, their values and their causes."""

    def __init__(self, deadline: float, describe: Callable[[Exception], str]) -> None:
        self.deadline = deadline
        self.describe = describe
        self.data: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self._queued: list[Callable[[], None]] = []
        self._parts: dict[str, dict[str, tuple[bool, Any]]] = {}
        self._assemble: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline

    def check_budget(self) -> None:
        """Raise inside a long read (pages, one call per item) once the budget is spent."""
        if self.spent():
            raise TimeoutError("the workspace's time budget was spent")

    def one(self, family: str, read: Callable[[], Any]) -> None:
        """Queue one family's read for the next `flush()`."""
        self._queued.append(lambda: self.read_now(family, read))

    def also(self, read: Callable[[], None]) -> None:
        """Queue a call that is no family of its own (it keeps its result itself) for the next `flush()`."""
        self._queued.append(read)

    def part(self, family: str, key: str, read: Callable[[], Any]) -> None:
        """Queue one independent call of a multi-part family; `assemble()` says how the parts combine."""
        slot = self._parts.setdefault(family, {})
        slot[key] = (False, _NOT_STARTED)

        def run() -> None:
            if self.spent():
                return
            try:
                slot[key] = (True, read())
            except Exception as exc:  # kept for the family: its first failing part is its error
                slot[key] = (False, exc)
        self._queued.append(run)

    def assemble(self, family: str, build: Callable[[dict[str, Any]], Any]) -> None:
        """How a multi-part family's parts (part -> value, in the order queued) become its value."""
        self._assemble.append((family, build))

    def flush(self) -> None:
        """Run everything queued at once, then settle the multi-part families."""
        todo, self._queued = self._queued, []
        run_all(todo)
        for family, build in self._assemble:
            got = self._parts.pop(family, {})
            failed = next((v for ok, v in got.values() if not ok), None)
            if failed is _NOT_STARTED:
                self.errors[family] = BUDGET_SPENT
            elif isinstance(failed, Exception):
                self._fail(family, failed)
            else:
                values = {k: v for k, (_, v) in got.items()}
                self.read_now(family, functools.partial(build, values), check_budget=False)
        self._assemble.clear()

    def read_now(self, family: str, read: Callable[[], Any], *, check_budget: bool = True) -> None:
        """Read one family here and now: its value, or the reason it stays unread."""
        if check_budget and self.spent():
            self.errors[family] = BUDGET_SPENT
            return
        try:
            self.data[family] = read()
        except Exception as exc:  # 403/404/FEATURE_DISABLED/timeout/malformed: this family only
            self._fail(family, exc)

    def _fail(self, family: str, exc: Exception) -> None:
        self.errors[family] = f"malformed answer: {exc}" if isinstance(exc, StateError) else self.describe(exc)
