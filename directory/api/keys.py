"""Admins can see which API keys exist (never a key or its hash). Keys are made and revoked
with ``sensate keys``: handing out a secret is a job for a shell, not for an HTTP response."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from directory.api.auth import requires_admin
from directory.records import ApiKey
from directory.service import Directory


class KeyAdminController(Controller):
    path = "/api/v1/admin/keys"
    tags = ["admin"]
    guards = [requires_admin]

    @get("/", summary="Every API key: name, role, created, last used", sync_to_thread=True)
    def list_keys(self, directory: NamedDependency[Directory]) -> list[ApiKey]:
        return directory.store.list_api_keys()
