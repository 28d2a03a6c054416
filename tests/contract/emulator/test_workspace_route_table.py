"""The workspace API is served from a route table (issue 11 §8, review P10), not an if-chain.

The table is unambiguous: no two routes answer the same method and path, so the order of the table never
decides an answer. An endpoint the emulator does not serve answers as Databricks does: 404 with
`{"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found for '<METHOD> <path>'"}`, the body
databricks/databricks-cli issue #383 quotes from a workspace; databricks-sdk-py 0.162.0 reads `error_code`
and `message` (databricks/sdk/errors/deserializer.py `_StandardErrorParser`) and, ENDPOINT_NOT_FOUND having
no class of its own, maps the 404 to `NotFound` (databricks/sdk/errors/mapper.py, platform.py).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from itertools import combinations

import pytest
import requests

from emulator.routes.workspace import ANY_METHOD, NOT_SUPPORTED_HERE, WORKSPACE_ROUTES, Route, pattern_param
from emulator.server import EmulatorServer
from tests.support.seed import HOST, make_seed

AUTH = {"Authorization": "Bearer test"}


def _segments_overlap(a: str, b: str) -> bool:
    """Whether some single path segment matches both pattern segments (literals compare case-insensitively,
    `{x:A|B}` only its exact values)."""
    pa, pb = pattern_param(a), pattern_param(b)
    values_a = None if pa else {a}
    values_b = None if pb else {b}
    if pa and pa[1] is not None:
        values_a = {v.lower() for v in pa[1]}
    if pb and pb[1] is not None:
        values_b = {v.lower() for v in pb[1]}
    if values_a is None or values_b is None:
        return True
    return bool(values_a & values_b)


def _patterns_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether some path matches both patterns."""
    for i in range(max(len(a), len(b))):
        rest_a = i < len(a) and (p := pattern_param(a[i])) is not None and p[2]
        rest_b = i < len(b) and (p := pattern_param(b[i])) is not None and p[2]
        if rest_a or rest_b:
            return True  # a trailing {x*} matches whatever the other pattern still needs
        if i >= len(a) or i >= len(b):
            return False
        if not _segments_overlap(a[i], b[i]):
            return False
    return True


def _methods_overlap(a: Route, b: Route) -> bool:
    return ANY_METHOD in (a.method, b.method) or a.method == b.method


def test_no_two_routes_match_the_same_method_and_path() -> None:
    clashes = [(a.method, a.pattern, b.method, b.pattern) for a, b in combinations(WORKSPACE_ROUTES, 2)
               if _methods_overlap(a, b) and _patterns_overlap(a.segments, b.segments)]
    assert clashes == []


def test_the_overlap_check_itself_sees_a_clash() -> None:
    """The check above can fail: a parameter overlaps a literal, a rest pattern overlaps anything below it."""
    assert _patterns_overlap(("api", "2.0", "{id}"), ("api", "2.0", "list"))
    assert _patterns_overlap(("api", "{rest*}"), ("api", "2.0", "x", "y"))
    assert _patterns_overlap(("scim", "{r:Users|Groups}"), ("scim", "users"))
    assert not _patterns_overlap(("scim", "{r:Users|Groups}"), ("scim", "me"))
    assert not _patterns_overlap(("api", "2.0", "a"), ("api", "2.0", "a", "{id}"))


def test_family_405s_cover_only_paths_the_table_serves_below_them() -> None:
    """Each 405 family is the prefix of some route (it answers the methods and depths its routes do not)."""
    for pattern, _message in NOT_SUPPORTED_HERE:
        family = tuple(pattern.split("/"))
        assert any(_patterns_overlap(family, r.segments) for r in WORKSPACE_ROUTES), pattern


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(copy.deepcopy(make_seed())) as srv:
        yield srv


def test_an_unknown_endpoint_answers_like_databricks(server: EmulatorServer) -> None:
    r = requests.post(f"{server.url}/ws/{HOST}/api/2.0/repos/list", headers=AUTH, json={}, timeout=5)
    assert r.status_code == 404
    assert r.json() == {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found for 'POST /api/2.0/repos/list'"}


def test_the_sdk_sees_an_unknown_endpoint_as_not_found(server: EmulatorServer) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound

    w = WorkspaceClient(host=f"{server.url}/ws/{HOST}", token="x", auth_type="pat")
    with pytest.raises(NotFound) as caught:
        w.api_client.do("GET", "/api/2.0/repos")
    assert caught.value.error_code == "ENDPOINT_NOT_FOUND"


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("DELETE", "api/2.0/ip-access-lists", 405, "DELETE is not supported on ip-access-lists here."),
    ("GET", "api/2.0/ip-access-lists/a/b", 405, "GET is not supported on ip-access-lists here."),
    ("POST", "api/2.0/workspace-conf", 405, "POST is not supported on workspace-conf."),
    ("POST", "api/2.0/token-management/tokens", 405, "POST is not supported on token-management here."),
    ("PUT", "api/2.0/settings/types/restrict_workspace_admins/names/default", 405,
     "PUT is not supported on settings."),
    ("POST", "api/2.1/clusters/list", 404, "No API found for 'POST /api/2.1/clusters/list'"),
])
def test_a_method_a_family_does_not_serve_answers_as_before(server: EmulatorServer, method: str, path: str,
                                                             status: int, message: str) -> None:
    r = requests.request(method, f"{server.url}/ws/{HOST}/{path}", headers=AUTH, json={}, timeout=5)
    assert (r.status_code, r.json()) == (status, {"error_code": "ENDPOINT_NOT_FOUND", "message": message})
