"""Secrets kept at rest: tokens encrypted with PAPERBOY_SECRET_KEY (Fernet), several keys for rotation.

`PAPERBOY_SECRET_KEY` holds one Fernet key, or several separated by commas: the first encrypts, every one
decrypts, so a new key goes first and the old one stays after it until every stored token has been encrypted
again (which `paperboy run` does when it starts). A stored value is marked as encrypted by a prefix; one
without it was stored in plain text before a key was set, and is read as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

SEALED_PREFIX = "fernet:"
MAKE_A_KEY = 'make one with `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
WRONG_KEY = (
    "PAPERBOY_SECRET_KEY cannot decrypt the tokens stored in the database: set it to the key they were "
    "encrypted with (to change keys, put the new key first and the old one after a comma)."
)
NO_KEY = (
    "The tokens stored in the database are encrypted but PAPERBOY_SECRET_KEY is not set: set it to the key "
    "they were encrypted with."
)


class SecretKeyError(ValueError):
    """PAPERBOY_SECRET_KEY is malformed, or not the key the stored tokens were encrypted with; one sentence."""


def parse_keys(value: str | None) -> tuple[str, ...]:
    """The keys of a PAPERBOY_SECRET_KEY value: comma-separated, blanks ignored."""
    return tuple(key.strip() for key in (value or "").split(",") if key.strip())


def is_sealed(stored: str) -> bool:
    """Whether a stored value was encrypted (rather than stored in plain text before a key was set)."""
    return stored.startswith(SEALED_PREFIX)


class TokenSealer:
    """Encrypts tokens for the database and decrypts them back; the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        # Imported here: a process without a key never loads cryptography (its Rust library is 5 MB resident).
        from cryptography.fernet import Fernet, MultiFernet

        if not keys:
            raise SecretKeyError(f"PAPERBOY_SECRET_KEY holds no key; {MAKE_A_KEY}.")
        fernets: list[Fernet] = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except ValueError:  # binascii.Error, a ValueError, for text that is not base64 at all
                which = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
                raise SecretKeyError(
                    f"PAPERBOY_SECRET_KEY: {which} is not a Fernet key (32 bytes in url-safe base64); "
                    f"{MAKE_A_KEY}."
                ) from None
        self._newest: Fernet = fernets[0]
        self._every: MultiFernet = MultiFernet(fernets)

    def seal(self, token: str) -> str:
        """The token encrypted with the first key, as stored."""
        return SEALED_PREFIX + self._newest.encrypt(token.encode()).decode()

    def open(self, stored: str) -> str:
        """The token a stored value holds: decrypted, or as it is when it was stored in plain text."""
        from cryptography.fernet import InvalidToken

        if not is_sealed(stored):
            return stored
        try:
            return self._every.decrypt(self._raw(stored)).decode()
        except InvalidToken:
            raise SecretKeyError(WRONG_KEY) from None

    def readable(self, stored: str) -> bool:
        """Whether a stored value can be read with these keys (plain values always can)."""
        try:
            self.open(stored)
        except SecretKeyError:
            return False
        return True

    def resealed(self, stored: str) -> str | None:
        """What to store instead of a value in plain text or encrypted with an older key; None if it is fine."""
        from cryptography.fernet import InvalidToken

        if not is_sealed(stored):
            return self.seal(stored)
        raw = self._raw(stored)
        try:
            self._newest.decrypt(raw)
        except InvalidToken:
            try:
                return SEALED_PREFIX + self._every.rotate(raw).decode()
            except InvalidToken:
                raise SecretKeyError(WRONG_KEY) from None
        return None

    @staticmethod
    def _raw(stored: str) -> bytes:
        return stored.removeprefix(SEALED_PREFIX).encode()


def sealer_for(keys: Sequence[str]) -> TokenSealer | None:
    """A sealer for the configured keys, or None when no key is set (tokens are then stored as they are)."""
    return TokenSealer(keys) if keys else None
