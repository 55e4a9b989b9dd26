"""API keys: format and hashing (directory.keys) and the `sensate keys` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from directory.cli import main
from directory.keys import hash_secret, new_key, parse_key, secret_matches
from directory.settings import Settings
from directory.store import DirectoryStore, create_engine_for


def test_a_new_key_parses_and_matches_only_its_own_hash() -> None:
    key_id, key, key_hash = new_key()
    parsed = parse_key(key)
    assert parsed is not None and parsed[0] == key_id
    assert secret_matches(parsed[1], key_hash)
    assert key not in key_hash and parsed[1] not in key_hash
    _, other, _ = new_key()
    other_parsed = parse_key(other)
    assert other_parsed is not None and not secret_matches(other_parsed[1], key_hash)


def test_equal_secrets_get_different_hashes() -> None:
    assert hash_secret("same") != hash_secret("same")


@pytest.mark.parametrize(
    "presented", ["", "sns_", "Bearer sns_x", "sns_0123456789abcdef_short", "xyz_" + "a" * 60]
)
def test_malformed_keys_do_not_parse(presented: str) -> None:
    assert parse_key(presented) is None


@pytest.mark.parametrize("stored", ["", "md5$00$00", "sha256$zz$00", "sha256"])
def test_unknown_or_broken_hashes_never_match(stored: str) -> None:
    assert not secret_matches("anything", stored)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SENSATE_VAR_DIR": str(tmp_path / "var")}


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    run(env, "migrate")
    output = run(env, "keys", "create", "--role", "verifier", "--name", "ana")
    printed = [line for line in output.splitlines() if line.startswith("sns_")]
    assert len(printed) == 1
    parsed = parse_key(printed[0])
    assert parsed is not None

    store = DirectoryStore(create_engine_for(Settings.from_env(env).sqlalchemy_url))
    found = store.api_key_and_hash(parsed[0])
    assert found is not None
    key, key_hash = found
    assert key.name == "ana" and key.role == "verifier" and key.revoked_at is None
    assert secret_matches(parsed[1], key_hash) and printed[0] not in key_hash

    listing = run(env, "keys", "list")
    assert "ana" in listing and "verifier" in listing and "active" in listing
    assert printed[0] not in listing and parsed[1] not in listing

    run(env, "keys", "revoke", "ana", "--reason", "left the team")
    assert "REVOKED" in run(env, "keys", "list")
    revoked = store.find_api_key("ana")
    assert revoked is not None and revoked.revoked_at is not None
    events = store.history(key.id)
    assert [e.action for e in events] == ["api_key.create", "api_key.revoke"]
    assert events[1].reason == "left the team" and events[1].actor == "cli"


def test_keys_refuse_bad_input(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "keys", "create", "--role", "admin", "--name", "root")
    runner = CliRunner()
    again = ["keys", "create", "--role", "admin", "--name", "root"]
    duplicate = runner.invoke(main, again, env=env)
    assert duplicate.exit_code == 2 and "exists already" in duplicate.output
    bad_role = runner.invoke(main, ["keys", "create", "--role", "owner", "--name", "x"], env=env)
    assert bad_role.exit_code == 2 and "--role" in bad_role.output
    unknown = runner.invoke(main, ["keys", "revoke", "nobody", "--reason", "r"], env=env)
    assert unknown.exit_code == 2 and "nobody" in unknown.output
    no_reason = runner.invoke(main, ["keys", "revoke", "root"], env=env)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
