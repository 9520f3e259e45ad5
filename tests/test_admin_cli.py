"""python -m dashboard user|backup|restore, and the key kept apart from the store."""
from __future__ import annotations

import io
import os
import shutil

import pytest

from dashboard import __main__ as cli
from dashboard import store
from dashboard.auth import accounts, audit
from dashboard.config import settings
from dashboard.privacy import pseudonym


@pytest.fixture
def env(tmp_path, monkeypatch):
    db = tmp_path / "store" / "store.duckdb"
    monkeypatch.setenv("WELLBEING_DB", str(db))
    monkeypatch.setenv("WELLBEING_SECRET", str(tmp_path / "keys" / "pseudonym.key"))
    store.connect(db).close()
    return db


def _run(monkeypatch, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(list(argv))


def _con(db):
    return store.connect(db)


def test_user_add_list_reset_remove(env, monkeypatch, capsys):
    assert _run(monkeypatch, "user", "add", "Dana", "--role", "admin", "--password-stdin",
                stdin="a long enough password\n") == 0
    assert _run(monkeypatch, "user", "add", "mo", "--role", "manager", "--directorate", "Medicine",
                "--password-stdin", stdin="another long password\n") == 0
    assert _run(monkeypatch, "user", "add", "jo@trust.nhs.uk", "--role", "viewer", "--sso") == 0
    assert _run(monkeypatch, "user", "add", "x", "--role", "manager", "--password-stdin",
                stdin="a long enough password\n") == 1  # a manager needs a scope
    assert _run(monkeypatch, "user", "add", "y", "--password-stdin", stdin="short\n") == 1
    capsys.readouterr()
    assert _run(monkeypatch, "user", "list") == 0
    listing = capsys.readouterr().out
    assert "dana" in listing and "directorate Medicine" in listing and "SSO only" in listing
    assert "$2b$" not in listing  # no hashes on screen
    assert _run(monkeypatch, "user", "reset", "dana", "--password-stdin", stdin="a new password here\n") == 0
    assert _run(monkeypatch, "user", "remove", "mo") == 0
    assert _run(monkeypatch, "user", "remove", "dana") == 1  # the last administrator stays
    con = _con(env)
    try:
        assert accounts.verify(con, "dana", "a new password here")[0] is not None
        trail = audit.read(con)
        assert list(trail.action).count("user") == 5
        assert all(w.startswith("command line") for w in trail.who)
        assert not trail.detail.str.contains("password here").any()
    finally:
        con.close()


def test_store_and_key_are_owner_only_and_the_key_is_outside_the_store_folder(env, monkeypatch):
    monkeypatch.delenv("WELLBEING_SECRET")
    default_key = settings().secret_path
    assert default_key.parent != env.parent and "wellbeing-compass" in str(default_key)
    assert os.stat(env).st_mode & 0o777 == 0o600


def test_missing_or_wrong_key_is_a_clear_error(env, tmp_path):
    con = _con(env)
    try:
        key = pseudonym.check_key(con)  # first use creates the key; a commit remembers it
        assert store.get_meta(con, "key_fingerprint") is None
        pseudonym.remember_key(con)
        assert store.get_meta(con, "key_fingerprint") == pseudonym.fingerprint(key)
        key_path = settings().secret_path
        key_path.rename(tmp_path / "elsewhere.key")
        with pytest.raises(pseudonym.KeyProblem, match="key is missing: expected at .*restore"):
            pseudonym.check_key(con)
        assert not key_path.exists()  # a new key is never made for a store that had one
        key_path.write_text("ab" * 32)
        with pytest.raises(pseudonym.KeyProblem, match="not the key this store was pseudonymised"):
            pseudonym.check_key(con)
    finally:
        con.close()


def test_backup_leaves_the_key_out_and_restore_puts_both_back(env, tmp_path, monkeypatch, capsys):
    con = _con(env)
    store.set_dataset_name(con, "Riverside")
    key = pseudonym.check_key(con)
    pseudonym.remember_key(con)
    con.close()
    backups, keys = tmp_path / "backups", tmp_path / "vault"
    assert _run(monkeypatch, "backup", str(backups), "--key-to", str(backups)) == 1  # not beside it
    out = capsys.readouterr().out
    assert _run(monkeypatch, "backup", str(backups), "--key-to", str(keys)) == 0
    out = capsys.readouterr().out
    assert "does NOT contain the pseudonymisation key" in out
    files = sorted(p for p in backups.iterdir() if p.suffix == ".duckdb")
    assert files and all(os.stat(f).st_mode & 0o777 == 0o600 for f in files)
    assert key.hex() not in b"".join(f.read_bytes() for f in backups.iterdir()).decode("latin-1")
    key_copy = keys / "pseudonym.key"
    assert os.stat(key_copy).st_mode & 0o777 == 0o600 and key_copy.read_text().strip() == key.hex()

    # disaster: store and key gone; restore both
    shutil.rmtree(env.parent)
    settings().secret_path.unlink()
    wrong = tmp_path / "wrong.key"
    wrong.write_text("cd" * 32)
    assert _run(monkeypatch, "restore", str(files[-1]), "--key", str(wrong)) == 1
    assert _run(monkeypatch, "restore", str(files[-1]), "--key", str(key_copy)) == 0
    con = _con(env)
    try:
        assert store.dataset_info(con)["name"] == "Riverside"
        assert pseudonym.check_key(con) == key
        assert set(audit.read(con).action) >= {"backup"}
    finally:
        con.close()
    assert os.stat(env).st_mode & 0o777 == 0o600
