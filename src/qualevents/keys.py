"""Console keys: creation, authentication, revocation. Imports ``models``, ``errors``, ``store``.

A key is ``console-`` followed by 40 random base62 characters (about 238 bits). Only its
SHA-256 is stored; a high-entropy secret needs no slow hash. The lookup is by hash and the
final comparison is constant-time, and unknown and revoked keys fail identically.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from qualevents.errors import ErrorItem, NotFound, Unauthorized, ValidationFailed, did_you_mean
from qualevents.models import ApiKey, KeyKind
from qualevents.store.base import Store

KEY_PREFIX = "console-"
_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40


def generate_secret() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def mask_secret(secret: str) -> str:
    """What a message may show of a key: its prefix and a few characters, never the rest."""
    if secret.startswith(KEY_PREFIX):
        return KEY_PREFIX + secret[len(KEY_PREFIX) : len(KEY_PREFIX) + 3] + "…"
    return secret[:3] + "…" if secret else ""


def unauthorized(secret: str | None) -> Unauthorized:
    if not secret:
        return Unauthorized(
            "This endpoint only accepts an active CONSOLE key, but no key was sent.",
            [ErrorItem(("STATSIG-API-KEY",), "Missing header: send a console key")],
        )
    return Unauthorized(
        "This endpoint only accepts an active CONSOLE key, but an invalid key was sent. "
        f"Key: {mask_secret(secret)}",
        [ErrorItem(("STATSIG-API-KEY",), "Unknown, revoked or malformed console key")],
    )


def _digest(secret: str | None) -> str:
    if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise unauthorized(secret)
    return hash_secret(secret)


def _accepted(secret: str | None, digest: str, found: tuple[ApiKey, str] | None) -> ApiKey:
    if found is None:
        raise unauthorized(secret)
    key, stored_hash = found
    if not hmac.compare_digest(stored_hash, digest) or not key.active:
        raise unauthorized(secret)
    return key


class KeyService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, *, read_only: bool = False) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is shown once and never stored."""
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationFailed(errors=[ErrorItem(("name",), "1 to 200 characters")])
        secret = generate_secret()
        key = self.store.create_key(
            "key-" + secrets.token_hex(6),
            name,
            KeyKind.READ_ONLY if read_only else KeyKind.FULL_ACCESS,
            hash_secret(secret),
        )
        return key, secret

    def authenticate(self, secret: str | None, *, fresh: bool = False) -> ApiKey:
        """The active key whose secret this is; Unauthorized otherwise (same for all cases).
        ``fresh``: a key revoked anywhere an instant ago is refused (mutations ask this)."""
        digest = _digest(secret)
        return _accepted(secret, digest, self.store.get_key_by_hash(digest, fresh=fresh))

    def authenticate_from_memory(self, secret: str | None, *, fresh: bool = False) -> ApiKey | None:
        """``authenticate`` when the store can answer from memory (``peek_key_by_hash``:
        no I/O, no waiting, so the event loop may call it); None when it cannot, and then
        ``authenticate`` decides. A malformed secret is refused here already."""
        digest = _digest(secret)
        found = self.store.peek_key_by_hash(digest, fresh=fresh)
        return None if found is None else _accepted(secret, digest, found)

    def list(self) -> list[ApiKey]:
        return self.store.list_keys()

    def revoke(self, key_id: str) -> ApiKey:
        key = self.store.revoke_key(key_id)
        if key is None:
            known = [k.id for k in self.store.list_keys()]

            raise NotFound(f"No key has id {key_id!r}.{did_you_mean(key_id, known)}")
        return key
