"""Field encryption at rest: AES-256-GCM, the key id stored with each value so keys can rotate.

Stored form: `v1:<key id>:<base64(nonce || ciphertext+tag)>`. The last configured key encrypts;
every configured key decrypts. The field name is bound in as associated data, so a value copied
into another column does not decrypt.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from garage.errors import OperationalFailure

PREFIX = "v1"


class DecryptionFailed(OperationalFailure):
    """A stored value does not decrypt with any configured key: a key is missing from
    GARAGE_ENCRYPTION_KEYS, or the value was damaged or copied from another column."""


class FieldCipher:
    def __init__(self, keys: tuple[tuple[str, bytes], ...]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current_key_id = keys[-1][0]

    def encrypt(self, plaintext: str, field: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.current_key_id].encrypt(nonce, plaintext.encode(), field.encode())
        return f"{PREFIX}:{self.current_key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, field: str) -> str:
        version, kid, payload = self._split(stored)
        if version != PREFIX or kid not in self._keys:
            raise DecryptionFailed(f"no key {kid!r} for a stored {field}")
        raw = base64.b64decode(payload)
        try:
            return self._keys[kid].decrypt(raw[:12], raw[12:], field.encode()).decode()
        except InvalidTag as error:
            raise DecryptionFailed(f"a stored {field} failed authentication") from error

    def key_id_of(self, stored: str) -> str:
        return self._split(stored)[1]

    def needs_rotation(self, stored: str) -> bool:
        return self.key_id_of(stored) != self.current_key_id

    def encrypt_optional(self, plaintext: str | None, field: str) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, field)

    def decrypt_optional(self, stored: str | None, field: str) -> str | None:
        return None if stored is None else self.decrypt(stored, field)

    @staticmethod
    def _split(stored: str) -> tuple[str, str, str]:
        parts = stored.split(":", 2)
        if len(parts) != 3:
            raise DecryptionFailed("not an encrypted value")
        return parts[0], parts[1], parts[2]
