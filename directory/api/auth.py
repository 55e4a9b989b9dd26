"""Who may call the verifier and admin API: API keys with roles, checked by route guards.

The whole API of this module::

    guards=[requires_role("verifier")]   # verifiers and admins (admin may do all a verifier may)
    guards=[requires_admin]              # admins only; requires_verifier is the other one
    actor_of(request) -> str             # the authenticated key's name, for audit events
    api_key_of(request) -> ApiKey        # the authenticated key itself
    role_required(guards) -> role | None # the lowest role a handler's guards admit

A key is presented as ``Authorization: Bearer sns_<id>_<secret>`` or as ``X-API-Key:
sns_...``. The key's public id finds its row by primary key, then one constant-time
comparison checks the secret against the stored salted hash (see directory.keys).

- no key at all, a malformed, unknown, wrong or revoked key: 401 problem details with a
  ``WWW-Authenticate: Bearer`` challenge (the same answer for all of them, so a caller cannot
  probe which key ids exist);
- a good key whose role is too low: 403.

Public search and profiles take no key and are never guarded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from litestar.concurrency import sync_to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from directory import keys
from directory.records import ApiKey, ApiKeyRole
from directory.store import DirectoryStore

__all__ = [
    "actor_of",
    "api_key_of",
    "requires_admin",
    "requires_role",
    "requires_verifier",
    "role_required",
]

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]

# Each role may do everything the roles below it may.
_RANK: dict[str, int] = {"verifier": 1, "admin": 2}
_STATE_KEY = "sensate_api_key"
# Each guard requires_role made, with the role it asks for (see role_required).
_ROLE_OF: dict[object, ApiKeyRole] = {}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sensate"'}


def _presented_key(connection: ASGIConnection) -> str | None:
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.headers.get("x-api-key") or None


def authenticate(store: DirectoryStore, presented: str | None) -> ApiKey:
    """The key presented with a request (see directory.keys), or a 401 with the challenge."""
    if presented is None:
        raise NotAuthorizedException("an API key is required", headers=_CHALLENGE)
    try:
        return keys.authenticate(store, presented)
    except keys.InvalidKey:
        raise _invalid() from None


def _invalid() -> NotAuthorizedException:
    return NotAuthorizedException(
        "the API key is not valid (unknown, revoked or malformed)",
        headers={"WWW-Authenticate": 'Bearer realm="sensate", error="invalid_token"'},
    )


def requires_role(role: ApiKeyRole) -> Guard:
    """A guard admitting keys of ``role`` or a higher one; it records the key on the request."""
    needed = _RANK[role]

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        store: DirectoryStore = connection.app.state.directory.store
        # The store is synchronous: look the key up off the event loop.
        key = await sync_to_thread(authenticate, store, _presented_key(connection))
        if _RANK[key.role] < needed:
            raise PermissionDeniedException(f"this needs the {role} role; the key is {key.role}")
        connection.scope["state"][_STATE_KEY] = key

    guard.__name__ = f"requires_{role}"
    _ROLE_OF[guard] = role
    return guard


requires_verifier = requires_role("verifier")
requires_admin = requires_role("admin")


def role_required(guards: Iterable[object]) -> ApiKeyRole | None:
    """The role a handler with these guards needs (the highest any of them asks for), or
    None for a public handler. The OpenAPI document names it on each operation."""
    roles = [_ROLE_OF[guard] for guard in guards if guard in _ROLE_OF]
    return max(roles, key=_RANK.__getitem__, default=None)


def api_key_of(connection: ASGIConnection) -> ApiKey:
    """The key a guard admitted; a handler without a guard has none (a programming error)."""
    key = connection.scope.get("state", {}).get(_STATE_KEY)
    if not isinstance(key, ApiKey):
        raise RuntimeError("no authenticated API key: is the route guarded?")
    return key


def actor_of(connection: ASGIConnection) -> str:
    """The authenticated key's name: what audit events record as the actor."""
    return api_key_of(connection).name
