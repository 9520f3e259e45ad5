"""Keyed pseudonyms (HMAC-SHA256) for employee and respondent identifiers, key kept outside the store."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd

from dashboard.config import settings

KEY_BYTES = 32


def load_key(path: Path | str | None = None) -> bytes:
    """Read the secret key, creating it (mode 0600, never overwriting) on first use."""
    path = Path(path) if path is not None else settings().secret_path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two first runs racing cannot both write a key and end up with different pseudonyms.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(KEY_BYTES))
    text = path.read_text().strip()
    if len(text) < 2 * KEY_BYTES:
        raise ValueError(f"pseudonymisation key at {path} is damaged; restore it from backup")
    return bytes.fromhex(text)


class KeyProblem(ValueError):
    """The key is missing or is not the one the store was pseudonymised with."""


def fingerprint(key: bytes) -> str:
    """Identifies a key without revealing it (kept in the store's meta table)."""
    return hmac.new(key, b"wellbeing-compass key check", hashlib.sha256).hexdigest()[:16]


def check_key(con, path: Path | str | None = None) -> bytes:
    """The key for this store: created on first use; a clear error when it is missing or wrong.

    A new key on a store that already holds pseudonyms would split every employee in two, so once
    a store has a key fingerprint the key is never created again, only restored from its backup.
    """
    from dashboard import store  # the store imports settings only; keep this module light

    path = Path(path) if path is not None else settings().secret_path
    known = store.get_meta(con, "key_fingerprint")
    if known is not None and not path.exists():
        raise KeyProblem(
            f"The pseudonymisation key is missing: expected at {path} (settings.toml [security] "
            f"key_path, or WELLBEING_SECRET). This store was pseudonymised with key {known}; restore "
            "that key from its backup (python -m dashboard restore --key). Nothing was imported."
        )
    key = load_key(path)
    mine = fingerprint(key)
    if known is not None and mine != known:
        raise KeyProblem(
            f"The key at {path} (fingerprint {mine}) is not the key this store was pseudonymised with "
            f"({known}). Restore the right key; nothing was imported."
        )
    return key


def remember_key(con, path: Path | str | None = None) -> None:
    """Record the key's fingerprint in the store once an import has used it (call after commit,
    so a refused or failed import leaves the store exactly as it was)."""
    from dashboard import store

    if store.get_meta(con, "key_fingerprint") is None:
        path = Path(path) if path is not None else settings().secret_path
        if path.exists():
            store.set_meta(con, "key_fingerprint", fingerprint(load_key(path)))


def pseudonym(value: str, key: bytes) -> str:
    """HMAC-SHA256 of the normalised identifier (trimmed; case kept, as HR systems treat it)."""
    return hmac.new(key, value.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Replace each identifier by its keyed hash; missing stays missing.

    Hashes each distinct identifier once (employees repeat across episodes), then maps back.
    """
    present = values.dropna()
    distinct = pd.unique(present.astype(str).str.strip())
    table = {v: pseudonym(v, key) for v in distinct}
    out = values.astype("string").str.strip().map(table)
    return out.astype("string")
