"""Local accounts: bcrypt hashes, lockout with back-off, SSO e-mails mapped to roles."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard import store
from dashboard.auth import accounts

PW = "correct horse battery"


@pytest.fixture
def con(tmp_path):
    con = store.connect(tmp_path / "store.duckdb")
    yield con
    con.close()


def _add(con, name="dana", role="admin", **kw):
    return accounts.add_user(con, name, role, kw.pop("password", PW), rounds=4, **kw)


def test_password_is_stored_as_a_bcrypt_hash_only(con):
    _add(con)
    stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$2b$04$") and PW not in stored
    assert "password_hash" not in accounts.list_users(con).columns


def test_right_password_signs_in_with_role_and_scope(con):
    _add(con, "Mo", "manager", directorates="Medicine, Surgery", teams=["HR"])
    p, why = accounts.verify(con, "  MO ", PW)
    assert why == "" and p.name == "mo" and p.role == "manager"
    assert p.directorates == {"Medicine", "Surgery"} and p.teams == {"HR"}


def test_wrong_and_unknown_are_refused(con):
    _add(con)
    assert accounts.verify(con, "dana", PW + "x") == (None, "wrong password")
    assert accounts.verify(con, "nobody", PW) == (None, "unknown")
    assert accounts.verify(con, "", "") == (None, "unknown")


def test_lockout_after_five_failures_doubles_and_then_clears(con):
    _add(con)
    t0 = datetime(2026, 1, 1, 9, 0, 0)
    for i in range(4):
        assert accounts.verify(con, "dana", "wrong", now=t0)[1] == "wrong password", i
    assert accounts.verify(con, "dana", "wrong", now=t0)[1] == "locked"  # fifth: locked 30 s
    locked = con.execute("SELECT locked_until FROM users").fetchone()[0]
    assert locked == t0 + timedelta(seconds=30)
    # while locked even the right password is refused
    assert accounts.verify(con, "dana", PW, now=t0 + timedelta(seconds=29)) == (None, "locked")
    # after the lock a further failure locks for twice as long
    t1 = t0 + timedelta(seconds=31)
    assert accounts.verify(con, "dana", "wrong", now=t1)[1] == "locked"
    assert con.execute("SELECT locked_until FROM users").fetchone()[0] == t1 + timedelta(seconds=60)
    t2 = t1 + timedelta(seconds=61)
    p, why = accounts.verify(con, "dana", PW, now=t2)
    assert p is not None and con.execute("SELECT failures, locked_until FROM users").fetchone() == (0, None)


def test_lock_is_capped(con):
    _add(con)
    t = datetime(2026, 1, 1)
    con.execute("UPDATE users SET failures = 40")
    accounts.verify(con, "dana", "wrong", now=t)
    assert con.execute("SELECT locked_until FROM users").fetchone()[0] == t + accounts.MAX_LOCK


def test_reset_lifts_a_lock_and_changes_the_password(con):
    _add(con)
    con.execute("UPDATE users SET failures = 9, locked_until = ?", [datetime(2999, 1, 1)])
    accounts.reset_password(con, "dana", "a brand new password", rounds=4)
    assert accounts.verify(con, "dana", PW)[0] is None
    assert accounts.verify(con, "dana", "a brand new password")[0] is not None


def test_management_errors(con):
    _add(con)
    with pytest.raises(accounts.AccountError, match="already exists"):
        _add(con, "DANA")
    with pytest.raises(accounts.AccountError, match="at least"):
        _add(con, "eve", password="short")
    with pytest.raises(accounts.AccountError, match="at most 72 bytes"):
        _add(con, "eve", password="é" * 40)
    with pytest.raises(ValueError, match="directorate or team"):
        _add(con, "eve", "manager")
    with pytest.raises(ValueError, match="unknown role"):
        _add(con, "eve", "owner")
    with pytest.raises(accounts.AccountError, match="last administrator"):
        accounts.remove_user(con, "dana")
    _add(con, "eve", "admin")
    accounts.remove_user(con, "dana")
    assert list(accounts.list_users(con).username) == ["eve"]
    with pytest.raises(accounts.AccountError, match="no user"):
        accounts.remove_user(con, "dana")


def test_sso_email_maps_to_a_role(con):
    accounts.add_user(con, "Jo.Bloggs@Trust.nhs.uk", "analyst")  # no password: SSO only
    p = accounts.principal_for_email(con, "jo.bloggs@trust.nhs.uk")
    assert p.role == "analyst" and p.how == "sso"
    assert accounts.principal_for_email(con, "someone.else@trust.nhs.uk") is None
    assert accounts.principal_for_email(con, None) is None
    # an SSO-only account cannot be used with a password
    assert accounts.verify(con, "jo.bloggs@trust.nhs.uk", "")[0] is None
    assert accounts.list_users(con).sign_in.tolist() == ["SSO only"]
