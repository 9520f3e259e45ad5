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
