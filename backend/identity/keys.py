"""Token signing keys: ES256 (P-256), kept as PEM files with a small index.

Keys are parsed once and kept in memory (re-parsing a PEM per call costs
milliseconds). ``hefeitong keys rotate`` makes a new current key; the previous
one stays published in the JWKS until every token it signed has expired. Other
workers notice a rotation by the index file's modification time.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.ids import uuid7

INDEX = "keys.json"
RELOAD_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    retired_at: float | None

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyStore:
    def __init__(self, directory: Path, *, publish_retired_for: float) -> None:
        self.directory = directory
        self.publish_retired_for = publish_retired_for
        self._keys: dict[str, SigningKey] = {}
        self._current: str | None = None
        self._index_mtime = 0.0
        self._checked_at = 0.0

    def load(self, *, create: bool) -> None:
        """Read the keys; with ``create`` (development) make a first key if there is none."""
        index_path = self.directory / INDEX
        if not index_path.exists():
            if not create:
                raise FileNotFoundError(f"no signing keys in {self.directory} (run keys rotate)")
            rotate(self.directory)
        index = json.loads(index_path.read_text(encoding="utf-8"))
        keys = {}
        for kid, meta in index["keys"].items():
            pem = (self.directory / f"{kid}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"signing key {kid} is not an EC key")
            keys[kid] = SigningKey(kid, private, meta.get("retired_at"))
        self._keys, self._current = keys, index["current"]
        self._index_mtime = index_path.stat().st_mtime
        self._checked_at = time.monotonic()

    def maybe_reload(self) -> None:
        """Pick up a rotation made by another process (checked at most every few seconds)."""
        now = time.monotonic()
        if now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        self._checked_at = now
        index_path = self.directory / INDEX
        if index_path.exists() and index_path.stat().st_mtime != self._index_mtime:
            self.load(create=False)

    @property
    def current(self) -> SigningKey:
        self.maybe_reload()
        assert self._current is not None, "keys not loaded"
        return self._keys[self._current]

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        key = self._keys.get(kid)
        if key is None:
            self._checked_at = 0.0  # an unknown kid may be a fresh rotation elsewhere
            self.maybe_reload()
            key = self._keys.get(kid)
        if key is None or not self._published(key):
            return None
        return key.public_key

    def _published(self, key: SigningKey) -> bool:
        return key.retired_at is None or time.time() - key.retired_at < self.publish_retired_for

    def jwks(self) -> dict[str, Any]:
        self.maybe_reload()
        return {"keys": [k.jwk() for k in self._keys.values() if self._published(k)]}


def rotate(directory: Path) -> str:
    """Make a new current key; the old current one is retired (still published a while)."""
    directory.mkdir(parents=True, exist_ok=True)
    index_path = directory / INDEX
    index: dict[str, Any] = {"current": None, "keys": {}}
    if index_path.exists():
        index = json.loads(index_path.read_text(encoding="utf-8"))
    kid = uuid7()
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = directory / f"{kid}.pem"
    key_path.write_bytes(pem)
    os.chmod(key_path, 0o600)
    if index["current"]:
        index["keys"][index["current"]]["retired_at"] = time.time()
    index["keys"][kid] = {"created_at": time.time(), "retired_at": None}
    index["current"] = kid
    temporary = index_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(index, indent=2), encoding="utf-8")
    temporary.replace(index_path)  # atomic: readers see the old index or the new one
    return kid
