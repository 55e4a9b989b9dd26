"""docker-compose.yml, Dockerfile and the proxy config, checked without a Docker engine.

The compose file is validated against the official Compose Specification schema (read in
place from the shared fixtures), then the properties that matter are asserted: no secret
in the repository, health checks, replicas, persistent volumes and start-up order.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.fixture_files import REPO, fixtures_dir

ONE_SHOTS = {"migrate"}
# An environment reference, with an optional default or required-message: ${NAME},
# ${NAME:?message}, ${NAME:-default} ...
REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::?[-?+][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|KEY|SECRET|TOKEN", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment in its mapping form (compose also allows a list)."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def compose_errors(compose: dict[str, Any]) -> list[str]:
    schema_path = fixtures_dir() / "compose-spec" / "compose-spec.json"
    if not schema_path.is_file():
        pytest.skip(f"Compose Specification schema not found at {schema_path}")
    schema = json.loads(schema_path.read_text())
    # The schema declares draft-07 as "https://json-schema.org/draft-07/schema", a URI
    # jsonschema does not recognise (it knows the http://...# form), so name it directly.
    jsonschema.Draft7Validator.check_schema(schema)
    errors = jsonschema.Draft7Validator(schema).iter_errors(compose)
    return [f"{list(e.path)}: {e.message}" for e in sorted(errors, key=lambda e: list(e.path))]


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []


def test_the_schema_check_catches_mistakes(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["app"]["deploy"]["replica"] = 2  # a typo of "replicas"
    broken["services"]["db"]["healthcheck"]["interval"] = 5  # a duration is a string
    assert len(compose_errors(broken)) == 2


def test_the_services(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == {"migrate", "app", "worker", "proxy", "db", "meili"}


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in services(compose).items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert REFERENCE.fullmatch(value), f"{name}: {key} must be a ${{...}} reference"
                checked += 1
            # A password inside a URL (user:password@host) must be a reference too.
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert REFERENCE.fullmatch(password), f"{name}: {key} has a literal password"
                checked += 1
    assert checked >= 5  # db, meili, and app/worker/migrate's URL and key


def test_secrets_are_required_not_defaulted(compose: dict[str, Any]) -> None:
    """``${NAME:?message}``: compose refuses to start without them, rather than run with an
    empty password."""
    db = environment(services(compose)["db"])
    meili = environment(services(compose)["meili"])
    assert db["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert meili["MEILI_MASTER_KEY"].startswith("${MEILI_MASTER_KEY:?")
    app = environment(services(compose)["app"])
    assert app["SENSATE_MEILI_KEY"].startswith("${MEILI_MASTER_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in app["SENSATE_DATABASE_URL"]


def test_no_secret_files_in_the_repository() -> None:
    assert not (REPO / ".env").exists()


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if name in ONE_SHOTS:
            assert service.get("restart") == "no"
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_app_is_replicated_behind_the_proxy(compose: dict[str, Any]) -> None:
    app = services(compose)["app"]
    assert app["deploy"]["replicas"] >= 2
    # Replicas cannot share a published port or a container name.
    assert "ports" not in app and "container_name" not in app
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    proxy = services(compose)["proxy"]
    assert proxy["ports"] == ["8000:8000"]
    (mount,) = proxy["volumes"]
    source = mount.split(":")[0]
    caddyfile = (REPO / source).resolve()
    assert caddyfile.is_file() and caddyfile.is_relative_to(REPO / "deploy")
    text = caddyfile.read_text()
    assert re.search(r"^\s*name app$", text, re.MULTILINE)  # every replica is an upstream
    assert re.search(r"^\s*log\b", text, re.MULTILINE) is None  # no query strings logged


def test_app_configuration(compose: dict[str, Any]) -> None:
    for name in ("app", "worker", "migrate"):
        env = environment(services(compose)[name])
        assert env["SENSATE_SEARCH"] == "meilisearch"
        assert env["SENSATE_MEILI_URL"] == "http://meili:7700"
        assert env["SENSATE_DATABASE_URL"].startswith("postgresql+psycopg://sensate:")
        assert env["SENSATE_DATABASE_URL"].endswith("@db:5432/sensate")
        assert env["SENSATE_RUN_INDEXER"] == "false"  # only the worker drains the outbox
    assert services(compose)["worker"]["command"] == ["sensate", "worker"]
    assert services(compose)["migrate"]["command"] == ["sensate", "migrate"]
    # Behind the proxy, the client's address must come from X-Forwarded-For, and the app
    # port must not be published (which is what makes trusting any peer safe).
    app = services(compose)["app"]
    assert environment(app)["SENSATE_FORWARDED_ALLOW_IPS"] == "*"
    assert "ports" not in app


def test_start_up_order(compose: dict[str, Any]) -> None:
    for name in ("app", "worker"):
        depends = services(compose)[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["db"] == {"condition": "service_healthy"}
        assert depends["meili"] == {"condition": "service_healthy"}
    assert services(compose)["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services(compose)["proxy"]["depends_on"]["app"] == {"condition": "service_healthy"}


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, target in (("db", "/var/lib/postgresql/data"), ("meili", "/meili_data")):
        mounts = [mount.split(":") for mount in services(compose)[name]["volumes"]]
        assert [source for source, path, *_ in mounts if path == target], name
        for source, path, *_ in mounts:
            if path == target:
                assert source in declared, f"{name}: {source} is not a named volume"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
    assert re.fullmatch(
        r"getmeili/meilisearch:v1\.\d+(\.\d+)?", services(compose)["meili"]["image"]
    )
    assert services(compose)["db"]["image"].startswith("postgres:16")
    assert environment(services(compose)["meili"])["MEILI_ENV"] == "production"


def test_dockerfile() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    assert 'CMD ["sensate", "serve", "--host", "0.0.0.0"]' in text


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "var"} <= ignored


def test_compose_paths_exist(compose: dict[str, Any]) -> None:
    for service in services(compose).values():
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").is_file()
    assert Path(REPO / "deploy" / "Caddyfile").is_file()
