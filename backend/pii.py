"""Personal data at rest: AES-GCM encryption with rotating keys, blind indexes, masking.

A stored value is a token ``v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``. The key
id lets keys rotate: new values use the current key, old tokens keep decrypting with
the key they name until a re-encryption pass moves them (``needs_rotation``,
``reencrypt``). The column name (``field``) is the AES-GCM associated data, so a
ciphertext copied into another column refuses to decrypt there.

Encryption is randomised, so equal values never look equal; lookups and uniqueness
use ``blind_index`` instead, an HMAC under a separate key. The index key cannot rotate
without recomputing every index, which is why it is configured apart from the
encryption keys.

Nothing here logs, and no exception message carries a plaintext or key material.

Core, not identity's: every feature stores personal or secret data (identity the citizen's,
providers their adapters' credentials, applications the webhook secrets) through this one
cipher, and none should depend on identity for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_VERSION = "v1"
DEV_KEY_ID = "dev"
KEY_SIZE = 32  # AES-256
MIN_INDEX_KEY_SIZE = 32  # RFC 2104: an HMAC key shorter than the hash output weakens it
NONCE_SIZE = 12
_TAG_SIZE = 16

# Key ids travel inside tokens and config strings: no ".", ":" or ",", which delimit them.
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
# No ":" in field names, so "field:value" in the blind index cannot be read two ways.
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")

_HKDF_INFO_ENCRYPTION = b"hefeitong/pii/encryption-key/v1"
_HKDF_INFO_INDEX = b"hefeitong/pii/blind-index-key/v1"


class PiiDecryptError(Exception):
    """A stored value did not decrypt: malformed, unknown key id, tampered, or wrong field.

    Deliberately not an ``AppError``: if it escapes a request the client gets a bare 500,
    never the reason.
    """


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    # Only the canonical spelling is accepted, so one ciphertext has exactly one token.
    return raw if _b64url_encode(raw) == text else None


def _aad(field: str) -> bytes:
    if not _FIELD.fullmatch(field):
        raise ValueError("PII field names are lower-case identifiers such as 'id_number'")
    return field.encode("ascii")


class PiiCipher:
    """Encrypts, decrypts and indexes personal data; build one at start-up and share it."""

    __slots__ = ("_aeads", "_current_key_id", "_index_key")

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str, index_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one PII encryption key is required")
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(
                    "PII key ids must be 1-32 characters of letters, digits, '_' or '-'"
                )
            if len(key) != KEY_SIZE:
                raise ValueError(f"PII key {key_id!r} must be {KEY_SIZE} bytes, got {len(key)}")
        if current_key_id not in keys:
            raise ValueError(f"the current PII key id {current_key_id!r} is not among the keys")
        if len(index_key) < MIN_INDEX_KEY_SIZE:
            raise ValueError(
                f"the PII index key must be at least {MIN_INDEX_KEY_SIZE} bytes, "
                f"got {len(index_key)}"
            )
        # One key, one purpose: an index key reused for encryption ties their fates together.
        if any(hmac.compare_digest(index_key, key) for key in keys.values()):
            raise ValueError("the PII index key must differ from every encryption key")
        self._aeads = {key_id: AESGCM(bytes(key)) for key_id, key in keys.items()}
        self._current_key_id = current_key_id
        self._index_key = bytes(index_key)

    def __repr__(self) -> str:
        return f"PiiCipher(key_ids={list(self._aeads)!r}, current={self._current_key_id!r})"

    @property
    def current_key_id(self) -> str:
        return self._current_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._aeads)

    @property
    def is_development(self) -> bool:
        """True when the keys were derived from the application secret (never in production)."""
        return DEV_KEY_ID in self._aeads

    def encrypt(self, value: str, *, field: str) -> str:
        """A fresh token for ``value`` under the current key, bound to the column ``field``."""
        aad = _aad(field)
        try:
            plaintext = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("PII values must be valid Unicode text") from None
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aeads[self._current_key_id].encrypt(nonce, plaintext, aad)
        return f"{TOKEN_VERSION}.{self._current_key_id}.{_b64url_encode(nonce + sealed)}"

    def decrypt(self, token: str, *, field: str) -> str:
        """The value of a token from :meth:`encrypt` with any configured key, for ``field``."""
        aad = _aad(field)
        key_id, body = _split(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise PiiDecryptError(f"unknown PII key id {key_id!r}")
        blob = _b64url_decode(body)
        if blob is None or len(blob) < NONCE_SIZE + _TAG_SIZE:
            raise PiiDecryptError("malformed PII ciphertext")
        try:
            plaintext = aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
        except InvalidTag:
            raise PiiDecryptError(
                f"PII ciphertext failed authentication for field {field!r} "
                "(tampered, or stored under another field)"
            ) from None
        return plaintext.decode("utf-8")

    def needs_rotation(self, token: str) -> bool:
        """True when ``token`` names a key other than the current one (it may be unknown)."""
        key_id, _ = _split(token)
        return key_id != self._current_key_id

    def reencrypt(self, token: str, *, field: str) -> str:
        """``token`` under the current key; unchanged when it already is."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, field=field), field=field)

    def blind_index(self, value: str, *, field: str) -> str:
        """Hex HMAC-SHA256 of ``"<field>:<value>"`` for lookups and unique constraints.

        Deterministic on purpose, so equal inputs find each other: normalise first
        (``backend.identity.validators.normalize_*``), or "138 1234 1234" and
        "13812341234" get different indexes. Per field, so equal strings in two
        columns cannot be linked.
        """
        _aad(field)
        message = f"{field}:{value}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    @classmethod
    def from_config(
        cls, keys_spec: str | None, index_key_spec: str | None, *, secret: str
    ) -> PiiCipher:
        """Build from settings: ``"kid1:<base64>,kid2:<base64>"`` (the last is current) and
        the index key as base64.

        With neither configured (development only) both keys are derived from ``secret``
        under the key id ``dev``, so the embedded mode needs no configuration. Settings
        must refuse that outside development (see :attr:`is_development`).
        """
        if keys_spec is None and index_key_spec is None:
            return cls._derived_from(secret)
        if keys_spec is None or index_key_spec is None:
            # Deriving only one of them would silently tie it to the application secret.
            raise ValueError("configure both the PII keys and the PII index key, or neither")
        keys = _parse_keys_spec(keys_spec)
        index_key = _decode_base64(index_key_spec, "the PII index key")
        return cls(keys, next(reversed(keys)), index_key)

    @classmethod
    def _derived_from(cls, secret: str) -> PiiCipher:
        if not secret:
            raise ValueError("an application secret is required to derive development PII keys")

        def derive(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(
                secret.encode("utf-8")
            )

        return cls(
            {DEV_KEY_ID: derive(_HKDF_INFO_ENCRYPTION)}, DEV_KEY_ID, derive(_HKDF_INFO_INDEX)
        )


def _split(token: str) -> tuple[str, str]:
    version, _, rest = token.partition(".")
    if version != TOKEN_VERSION:
        raise PiiDecryptError("not a v1 PII token")
    key_id, dot, body = rest.partition(".")
    if not dot or not _KEY_ID.fullmatch(key_id):
        raise PiiDecryptError("malformed PII token")
    return key_id, body


def _decode_base64(text: str, what: str) -> bytes:
    text = text.strip()
    if not text:
        raise ValueError(f"{what} is empty")
    # Accept both alphabets: operators paste keys from `openssl rand -base64` and from JWKs.
    raw = _b64url_decode(text.replace("+", "-").replace("/", "_").rstrip("="))
    if raw is None:
        raise ValueError(f"{what} is not valid base64")
    return raw


def _parse_keys_spec(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(spec.split(","), start=1):
        key_id, colon, encoded = entry.strip().partition(":")
        key_id = key_id.strip()
        if not colon:
            raise ValueError(f"PII key entry {position} is not of the form '<key id>:<base64 key>'")
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"PII key entry {position} has an invalid key id (1-32 letters, digits, '_' or '-')"
            )
        if key_id == DEV_KEY_ID:
            raise ValueError(
                f"the PII key id {DEV_KEY_ID!r} is reserved for derived development keys"
            )
        if key_id in keys:
            raise ValueError(f"the PII key id {key_id!r} appears more than once")
        key = _decode_base64(encoded, f"PII key {key_id!r}")
        if len(key) != KEY_SIZE:
            raise ValueError(f"PII key {key_id!r} must be {KEY_SIZE} bytes, got {len(key)}")
        keys[key_id] = key
    return keys


# --- masking: what responses show unless the owner asks for the full value ------------


def _mask(value: str, keep_start: int, keep_end: int) -> str:
    hidden = len(value) - keep_start - keep_end
    if hidden <= 0:
        # Too short to show both ends without showing all of it.
        return "*" * len(value)
    return value[:keep_start] + "*" * hidden + value[len(value) - keep_end :]


def mask_phone(value: str) -> str:
    """``13812341234`` → ``138****1234``."""
    return _mask(value, 3, 4)


def mask_id_number(value: str) -> str:
    """``34010419900307201X`` → ``3401**********201X``: region and birth date hidden."""
    return _mask(value, 4, 4)


def mask_credit_code(value: str) -> str:
    """``91350100M000100Y43`` → ``91************0Y43``."""
    return _mask(value, 2, 4)


def mask_name(value: str) -> str:
    """The first character and a star for each other one: ``张三`` → ``张*``."""
    return value[:1] + "*" * (len(value) - 1)
