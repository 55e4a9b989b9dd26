"""API keys: how they look, how they are made, and how a presented key is checked.

A key reads ``sns_<id>_<secret>``: ``id`` is 16 hex characters, public, and the primary key
of its row in ``api_keys``; ``secret`` is 32 random bytes (URL-safe base64). Only a salted
SHA-256 of the secret is stored, as ``sha256$<salt hex>$<digest hex>``.

Why not scrypt or PBKDF2: slow hashes exist to protect guessable passwords. A 256-bit random
secret cannot be guessed from its hash at any hashing speed, while a deliberately slow hash on
every API request would cost CPU on each call and hand attackers a cheap way to load the
server. The salt keeps equal secrets (there will be none) from having equal hashes, and the
algorithm prefix lets a later version change the scheme without a migration. Looking the row
up by the public id means one constant-time comparison per request, never a scan.

``authenticate`` is the one check of a presented key, used by the API's route guards
(``directory.api.auth``) and the verifier console's sign-in (``directory.web.verify``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from directory.records import ApiKey
    from directory.store import DirectoryStore

PREFIX = "sns_"
# last_used_at is for spotting unused keys, not an access log: once an hour is plenty, and it
# spares a write transaction on every authenticated request.
TOUCH_EVERY = dt.timedelta(hours=1)
_KEY = re.compile(r"sns_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})")


def new_key() -> tuple[str, str, str]:
    """A fresh key: ``(key_id, the key to hand out once, the hash to store)``."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{PREFIX}{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.sha256(salt + secret.encode()).hexdigest()
    return f"sha256${salt.hex()}${digest}"


def parse_key(presented: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    found = _KEY.fullmatch(presented.strip())
    return (found["id"], found["secret"]) if found else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    algorithm, _, rest = stored_hash.partition("$")
    salt_hex, _, _digest = rest.partition("$")
    if algorithm != "sha256":
        return False
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(hash_secret(secret, salt), stored_hash)


class InvalidKey(Exception):
    """A malformed, unknown, wrong or revoked key: one answer for all, so a caller cannot
    probe which key ids exist."""


def authenticate(store: DirectoryStore, presented: str) -> ApiKey:
    """The stored key ``presented`` stands for, if it is valid; else InvalidKey."""
    parsed = parse_key(presented)
    found = store.api_key_and_hash(parsed[0]) if parsed else None
    if parsed is None or found is None:
        raise InvalidKey()
    key, key_hash = found
    # Compare even for a revoked key, so revoked and wrong keys take the same path.
    matches = secret_matches(parsed[1], key_hash)
    if not matches or key.revoked_at is not None:
        raise InvalidKey()
    now = dt.datetime.now(dt.UTC)
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        store.touch_api_key(key.id, now)
    return key
