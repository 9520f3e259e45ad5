"""Keyed pseudonyms: HMAC-SHA256, key created once with 0600 outside the store, stable and distinct."""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd
import pytest

from dashboard.privacy import pseudonym


def test_key_created_once_private_and_reused(tmp_path):
    path = tmp_path / "k" / "secret"
    key = pseudonym.load_key(path)
    assert len(key) == 32 and os.stat(path).st_mode & 0o777 == 0o600
    assert pseudonym.load_key(path) == key


def test_hmac_matches_the_standard_and_depends_on_the_key(tmp_path):
    key = bytes(range(32))
    expected = hmac.new(key, b"E001", hashlib.sha256).hexdigest()
    assert pseudonym.pseudonym(" E001 ", key) == expected
    assert pseudonym.pseudonym("E001", bytes(32)) != expected
    got = pseudonym.pseudonymise(pd.Series(["E001", "E002", None, "E001"], dtype="string"), key)
    assert got[0] == got[3] == expected and got[1] != expected and pd.isna(got[2])


def test_damaged_key_is_refused(tmp_path):
    path = tmp_path / "secret"
    path.write_text("abc")
    with pytest.raises(ValueError, match="damaged"):
        pseudonym.load_key(path)
