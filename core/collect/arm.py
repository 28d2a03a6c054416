"""Azure Resource Manager reads through the real azure-mgmt clients.

GenericResource GETs by id with explicit api-versions (azure-mgmt-resource), subscription discovery
(azure-mgmt-resource-subscriptions) and the Databricks list-by-subscription call, whose pages already
carry every workspace's full properties. Retries, 429 `Retry-After` and 5xx backoff are azure-core's
RetryPolicy; timeouts bound hangs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest

from core.arm_ids import same_arm_id
from core.collect import config as api
from core.collect.auth import arm_client_kwargs
from core.collect.bounded import ResponseBoundExceeded, mount_bounded
from core.collect.config import CollectConfig
from core.errors import scrub_error_code


class ArmReadError(Exception):
    """ARM could not be read; the message names the resource and the cause, never a token."""

    def __init__(self, resource_id: str, cause: str) -> None:
        super().__init__(f"{resource_id}: {cause}")
        self.resource_id = resource_id
        self.cause = cause


def describe_error(exc: Exception) -> str:
    """A short, secret-free description of an azure-core failure."""
    if isinstance(exc, ClientAuthenticationError):
        return f"authentication failed ({getattr(exc, 'status_code', None) or 401})"
    if isinstance(exc, HttpResponseError):
        code = scrub_error_code(getattr(getattr(exc, "error", None), "code", None) or exc.reason)
        return f"HTTP {exc.status_code} {code}".strip()
    if isinstance(exc, ServiceResponseError):
        return "no response (timeout or connection reset)"
    if isinstance(exc, ServiceRequestError):
        return "unreachable (connection failed)"
    if isinstance(exc, ResponseBoundExceeded):
        return exc.problem
    return exc.__class__.__name__


def api_version_for(resource_id: str) -> str:
    """The api-version of the provider that owns the id (read at call time from core/collect/config.py)."""
    low = resource_id.lower()
    if "/providers/microsoft.insights/" in low:
        return api.DIAGNOSTICS_API_VERSION
    if "/providers/microsoft.authorization/locks" in low:
        return api.LOCKS_API_VERSION
    if "/providers/microsoft.network/" in low:
        return api.NETWORK_API_VERSION
    if "/providers/microsoft.authorization/" in low:
        return api.AUTHORIZATION_API_VERSION
    return api.DATABRICKS_API_VERSION


def _transport(config: CollectConfig) -> RequestsTransport:
    session = requests.Session()
    # Bounded: a total deadline per request and a size cap (core/collect/bounded.py).
    mount_bounded(session, deadline_s=config.request_deadline_s, max_bytes=config.max_response_bytes,
                  pool_connections=4, pool_maxsize=max(config.concurrency, 10))
    return RequestsTransport(session=session, session_owner=True, connection_timeout=config.connect_timeout_s,
                             read_timeout=config.read_timeout_s)


def expected_type(resource_id: str) -> str | None:
    """`Microsoft.Network/networkSecurityGroups/securityRules` for a security rule id (None if not a provider id)."""
    _, sep, tail = resource_id.rpartition("/providers/")
    if not sep:
        return None
    segs = [x for x in tail.split("/") if x]
    if len(segs) < 3:
        return None
    return "/".join([segs[0], *segs[1::2]])


def document_mismatch(resource_id: str, doc: Any) -> str | None:
    """Why an ARM answer is not the document of `resource_id` (None when it is)."""
    if not isinstance(doc, dict) or not doc:
        return f"answer is not a resource document (got {'an empty object' if doc == {} else type(doc).__name__})"
    rid, rtype = doc.get("id"), doc.get("type")
    if not isinstance(rid, str) or not same_arm_id(rid, resource_id):
        return "answer is a document for another resource (id differs from the request)"
    want = expected_type(resource_id)
    if want is not None and (not isinstance(rtype, str) or not same_arm_id(rtype, want)):
        return f"answer has type {str(rtype)[:80]!r}, expected {want}"
    if not isinstance(doc.get("properties", {}), dict):
        return "answer's properties is not an object"
    return None


_NOT_FOUND: Any = object()
"""What a fetch returns for an HTTP 404 (distinct from a 200 whose body is `null`)."""


def _json_body(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    """The answer as JSON. With `stream=True` the SDK hands back the body without building its
    GenericResource model first (a walk of the whole document we would only throw away); its status and
    error mapping are unchanged, and BoundedAdapter has already read the bounded body into memory."""
    response = pipeline_response.http_response
    response.read()
    return response.json()


class ArmReader:
    """Thread-safe ARM reads for one scan (one connection pool shared by all threads)."""

    def __init__(self, config: CollectConfig) -> None:
        from azure.mgmt.resource.resources import ResourceManagementClient
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        credential, extra = arm_client_kwargs(config)
        # ARM never redirects a read: a 3xx is an answer to refuse, never a hop for the bearer token.
        common = dict(base_url=config.arm_endpoint, transport=_transport(config), retry_total=config.arm_retries,
                      retry_backoff_factor=0.4, retry_backoff_max=10, permit_redirects=False, **extra)
        if not config.emulator_mode:
            common["credential_scopes"] = [f"{config.arm_endpoint}/.default"]
        # subscription_id is required by the constructor but unused: every call here takes full ids.
        self._resources = ResourceManagementClient(credential, "00000000-0000-0000-0000-000000000000", **common)
        self._subscriptions = SubscriptionClient(credential, **common)
        self._base = config.arm_endpoint.rstrip("/")

    def close(self) -> None:
        self._resources.close()
        self._subscriptions.close()

    def list_subscriptions(self) -> list[dict[str, Any]]:
        try:
            return [{"subscriptionId": s.subscription_id, "displayName": s.display_name,
                     "state": str(getattr(s.state, "value", s.state)) if s.state else None}
                    for s in self._subscriptions.subscriptions.list()]
        except (HttpResponseError, ServiceRequestError, ServiceResponseError, ResponseBoundExceeded) as exc:
            raise ArmReadError("/subscriptions", describe_error(exc)) from None

    @staticmethod
    def _read(where: str, fetch: Callable[[], Any]) -> dict[str, Any] | None:
        """Run one read; 404 -> None, other failures -> ArmReadError naming `where`; the body must be an object."""
        try:
            body = fetch()
        except ResourceNotFoundError:
            return None
        except (HttpResponseError, ServiceRequestError, ServiceResponseError, ResponseBoundExceeded) as exc:
            raise ArmReadError(where, describe_error(exc)) from None
        except ValueError:
            raise ArmReadError(where, "response is not JSON") from None
        if body is _NOT_FOUND:
            return None
        if body is None:  # a 200 with `null` is not "does not exist": only a 404 says that
            raise ArmReadError(where, "response is null, not a resource document")
        if not isinstance(body, dict):
            raise ArmReadError(where, f"response is a JSON {type(body).__name__}, not an object")
        return body

    def get(self, resource_id: str) -> dict[str, Any] | None:
        """The resource's ARM document, or None when it does not exist (404).

        A 200 is only an observation when it is the resource asked for: `null`, `{}`, an empty body or a
        document with another id or type raises ArmReadError (an evaluation problem that resolves nothing)."""
        doc = self._read(resource_id, lambda: self._resources.resources.get_by_id(
            resource_id, api_version=api_version_for(resource_id), stream=True, cls=_json_body))
        if doc is not None:
            problem = document_mismatch(resource_id, doc)
            if problem:
                raise ArmReadError(resource_id, problem)
        return doc

    def _get_json(self, url: str, where: str) -> dict[str, Any] | None:
        def fetch() -> Any:
            response = self._resources.send_request(HttpRequest("GET", url))
            if response.status_code == 404:
                return _NOT_FOUND
            response.raise_for_status()
            if response.status_code != 200:  # e.g. a redirect, which is never followed
                raise ArmReadError(where, f"unexpected HTTP {response.status_code} (redirects are not followed)")
            return response.json()

        return self._read(where, fetch)

    def _next_url(self, next_link: str) -> str:
        """Follow nextLink only to our own ARM endpoint (a response must not redirect our token)."""
        ours, theirs = urlparse(self._base), urlparse(next_link)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise ArmReadError(next_link.split("?")[0], "nextLink points to another host")
        return next_link

    def _pages(self, where: str, api_version: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of a subscription-level list (`{"value": [...], "nextLink"}`), following nextLink."""
        url: str | None = f"{self._base}{where}?api-version={api_version}"
        while url:
            body = self._get_json(url, where)
            if body is None:
                raise ArmReadError(where, "subscription not found")
            value = body.get("value")
            if not isinstance(value, list):
                raise ArmReadError(where, "list response has no 'value' array")
            yield [v for v in value if isinstance(v, dict)]
            nxt = body.get("nextLink")
            url = self._next_url(nxt) if isinstance(nxt, str) and nxt else None

    def list_workspaces(self, subscription_id: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of full workspace documents for one subscription (follows nextLink)."""
        return self._pages(f"/subscriptions/{subscription_id}/providers/Microsoft.Databricks/workspaces",
                           api.DATABRICKS_API_VERSION)

    def list_network(self, subscription_id: str, kind: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of a subscription's `virtualNetworks` or `networkSecurityGroups`, each document as its GET
        returns it (VNets with their subnets, NSGs with their rules): azure-rest-api-specs
        specification/network/resource-manager/Microsoft.Network/stable/2025-07-01/examples/
        VirtualNetworkListAll.json and NetworkSecurityGroupListAll.json (`value` + `nextLink`)."""
        if kind not in ("virtualNetworks", "networkSecurityGroups"):
            raise ValueError(f"not a network list: {kind}")
        return self._pages(f"/subscriptions/{subscription_id}/providers/Microsoft.Network/{kind}",
                           api.NETWORK_API_VERSION)

    def list_diagnostic_settings(self, workspace_id: str) -> list[dict[str, Any]] | None:
        """The workspace's diagnostic settings; None on a 404 (which alone does not prove the workspace is gone)."""
        return self._list_all(f"{workspace_id}/providers/Microsoft.Insights/diagnosticSettings",
                              api.DIAGNOSTICS_API_VERSION)

    def _bounded_pages(self, where: str, url: str, max_pages: int) -> list[dict[str, Any]] | None:
        """Every item of an ARM list (`value` + `nextLink` to our own endpoint); None on 404; a page
        without `value`, or more than `max_pages` pages, is an error."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        for _ in range(max_pages):
            if not next_url:
                return items
            body = self._get_json(next_url, where)
            if body is None:
                return None
            value = body.get("value")
            if not isinstance(value, list):
                raise ArmReadError(where, "list response has no 'value' array")
            items += [v for v in value if isinstance(v, dict)]
            nxt = body.get("nextLink")
            next_url = self._next_url(nxt) if isinstance(nxt, str) and nxt else None
        if next_url:
            raise ArmReadError(where, f"more than {max_pages} pages; not read")
        return items

    def _list_paged(self, where: str, url: str, max_pages: int) -> list[dict[str, Any]]:
        """`_bounded_pages` where a 404 (the scope is gone) is an error, not an empty list."""
        items = self._bounded_pages(where, url, max_pages)
        if items is None:
            raise ArmReadError(where, "HTTP 404 (the scope was not found)")
        return items

    def _list_all(self, where: str, api_version: str) -> list[dict[str, Any]] | None:
        """Every item of a list under `where` (at most 100 pages); None on 404."""
        return self._bounded_pages(where, f"{self._base}{where}?api-version={api_version}", 100)

    def list_role_assignments(self, scope: str) -> list[dict[str, Any]]:
        """Role assignments at `scope` and every scope above it (resource group, subscription, management
        groups, root): `RoleAssignments_ListForScope` with `$filter=atScope()`, api-version 2022-04-01
        (azure-rest-api-specs .../Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json)."""
        where = f"{scope}/providers/Microsoft.Authorization/roleAssignments"
        return self._list_paged(where, f"{self._base}{where}?api-version={api.AUTHORIZATION_API_VERSION}"
                                       "&$filter=atScope()", MAX_RBAC_PAGES)

    def list_role_definitions(self, scope: str) -> list[dict[str, Any]]:
        """Role definitions applicable at `scope` and above (built-in and custom): `RoleDefinitions_List`,
        api-version 2022-04-01 (authorization-RoleDefinitionsCalls.json)."""
        where = f"{scope}/providers/Microsoft.Authorization/roleDefinitions"
        return self._list_paged(where, f"{self._base}{where}?api-version={api.AUTHORIZATION_API_VERSION}",
                                MAX_RBAC_PAGES)

    def list_locks(self, resource_id: str) -> list[dict[str, Any]] | None:
        """`ManagementLocks_ListAtResourceLevel` (locks.json 2020-05-01): the resource's locks, including
        those inherited from its resource group (example ManagementLocks_ListAtResourceLevel.json)."""
        return self._list_all(f"{resource_id}/providers/Microsoft.Authorization/locks", api.LOCKS_API_VERSION)

    def list_private_dns_zone_groups(self, private_endpoint_id: str) -> list[dict[str, Any]] | None:
        """`PrivateDnsZoneGroups_List` of one private endpoint (Network privateEndpoint.json)."""
        return self._list_all(f"{private_endpoint_id}/privateDnsZoneGroups", api.NETWORK_API_VERSION)


MAX_RBAC_PAGES = 50
"""Bound on role-assignment / role-definition pages per workspace; beyond it the family is reported unread."""
