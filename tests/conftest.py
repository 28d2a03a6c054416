"""Suite-wide hooks and fixtures.

- The secret scanner (tests/support/secret_scan.py): every log record emitted while the tests run is
  checked for secrets; a record that carries one fails the test phase during which it was emitted.
- Every Adaptive Card a test builds passes Microsoft's tooling (tests/card_check.py).
- The fixtures shared by several folders: `azurite` (one per xdist worker), `app` (the Functions app
  over it, tests/support/app.py), and `connection` / `store` (a findings store over it with fresh tables,
  for tests/contract/store and the online CLI tests in tests/app).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest

from core.store import StorageConnection, TableFindingsStore
from tests import card_check
from tests.azurite import AzuriteProcess, azurite  # noqa: F401  (the session fixture, shared suite-wide)
from tests.support.app import App, make_app
from tests.support.secret_scan import (
    HANDLER,
    TEST_OWN_SECRETS,
    SecretScanHandler,
    add_literal_secret,
    attach_everywhere,
    remove_literal_secrets,
)
from tests.support.store import reset_storage

card_check.install()  # before any test module imports `build_digest` by name


@pytest.fixture
def app(azurite: AzuriteProcess) -> Iterator[App]:  # noqa: F811  (the fixture imported above)
    """The Functions app on the sample estate over this worker's Azurite (storage emptied first)."""
    with make_app(azurite.connection_string) as a:
        yield a


@pytest.fixture(scope="session")
def connection(azurite: AzuriteProcess) -> StorageConnection:  # noqa: F811  (the fixture imported above)
    conn = StorageConnection.from_connection_string(azurite.connection_string)
    conn.ensure()
    return conn


@pytest.fixture
def store(connection: StorageConnection) -> Iterator[TableFindingsStore]:
    reset_storage(connection)
    yield TableFindingsStore(connection)


def pytest_configure(config: pytest.Config) -> None:
    # The root logger goes to DEBUG for the scanner; keep pytest's capture/report handlers at
    # WARNING (the old effective level) so they do not format and store every DEBUG record.
    if config.getoption("log_level", None) is None and not config.getini("log_level"):
        config.option.log_level = "WARNING"
    attach_everywhere()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    attach_everywhere()  # a test or library may have raised the root level or added a logger


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    leaks = HANDLER.take()
    accepted = TEST_OWN_SECRETS.get(item.nodeid)
    if accepted:
        leaks = [leak for leak in leaks if not leak.values <= accepted[0]]
    if leaks:
        text = (f"secret scanner (tests/conftest.py): {len(leaks)} log record(s) during {call.when} carried "
                "secrets:\n" + "\n".join(f"  - {leak.describe()}" for leak in leaks[:20]))
        report.sections.append(("secret scanner", text))
        if report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = text
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = HANDLER.take()  # emitted outside any test phase (collection, session teardown)
    if leaks:
        print("\nsecret scanner (tests/conftest.py): log records outside any test carried secrets:\n"
              + "\n".join(f"  - {leak.describe()}" for leak in leaks[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def log_secrets() -> Iterator[Callable[[str], None]]:
    """Register extra literal secrets (e.g. a webhook `sig` value) for the scanner, for one test."""
    added: list[str] = []

    def register(value: str) -> None:
        add_literal_secret(value)
        added.append(value)

    yield register
    remove_literal_secrets(added)


@pytest.fixture
def secret_scanner() -> SecretScanHandler:
    """The session's scanner (tests of the scanner itself read `find_secrets` / `records_seen`)."""
    return HANDLER


@pytest.fixture(autouse=True)
def every_card_is_valid() -> Iterator[list[dict[str, object]]]:
    """Record the Adaptive Cards this test builds; afterwards each must pass Microsoft's tooling."""
    cards = card_check.start_recording()
    yield cards
    problems = card_check.stop_recording(cards)
    assert not problems, "\n".join(problems[:40])


@pytest.fixture(scope="session", autouse=True)
def _card_validator_process() -> Iterator[None]:
    yield
    card_check.close()
