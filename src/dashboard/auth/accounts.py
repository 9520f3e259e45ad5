"""Accounts: local users with bcrypt-hashed passwords and lockout, and SSO e-mails mapped to roles."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

import bcrypt
import duckdb
import pandas as pd

from dashboard.auth.access import ROLES, Principal, parse_names

MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything past 72 bytes; refuse rather than truncate
ROUNDS = 12
# After FREE_FAILURES wrong passwords in a row the account locks for BASE_LOCK, doubling with every
# further failure up to MAX_LOCK; a right password while locked is refused too.
FREE_FAILURES = 5
BASE_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=30)


@cache
def decoy_hash() -> bytes:
    """Checked against when the user name is unknown or locked, so that answering takes as long
    as for a real account and the time taken does not tell which names exist. Made on first use,
    not at import: hashing at 12 rounds costs ~0.3 s of CPU on every fresh server's first page."""
    return bcrypt.hashpw(b"not a password of anyone", bcrypt.gensalt(ROUNDS))


class AccountError(ValueError):
    """A user-management request that cannot be carried out (the message says why)."""


def normalise(username: str) -> str:
    name = " ".join(str(username).split()).lower()
    if not name or len(name) > 254:
        raise AccountError("a user name is 1-254 characters")
    return name


def _hash(password: str, rounds: int) -> str:
    raw = password.encode("utf-8")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise AccountError(f"a password may have at most {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode("ascii")


def add_user(
    con: duckdb.DuckDBPyConnection, username: str, role: str, password: str | None = None,
    directorates: Iterable[str] | str | None = None, teams: Iterable[str] | str | None = None,
    rounds: int = ROUNDS,
) -> Principal:
    """Create an account. Without a password it can only sign in through SSO (the e-mail)."""
    name = normalise(username)
    principal = Principal(name, role, parse_names(directorates), parse_names(teams))  # checks role
    if con.execute("SELECT count(*) FROM users WHERE username = ?", [name]).fetchone()[0]:
        raise AccountError(f"user {name} already exists")
    pw_hash = _hash(password, rounds) if password is not None else None
    con.execute(
        "INSERT INTO users (username, role, directorates, teams, password_hash) VALUES (?, ?, ?, ?, ?)",
        [name, role, sorted(principal.directorates), sorted(principal.teams), pw_hash],
    )
    return principal


def remove_user(con: duckdb.DuckDBPyConnection, username: str) -> None:
    name = normalise(username)
    if not _exists(con, name):
        raise AccountError(f"no user {name}")
    admins = con.execute("SELECT list(username) FROM users WHERE role = 'admin'").fetchone()[0] or []
    if admins == [name]:
        raise AccountError("this is the last administrator; add another before removing it")
    con.execute("DELETE FROM users WHERE username = ?", [name])


def reset_password(
    con: duckdb.DuckDBPyConnection, username: str, password: str, rounds: int = ROUNDS
) -> None:
    """Set a new password and lift any lockout."""
    name = normalise(username)
    if not _exists(con, name):
        raise AccountError(f"no user {name}")
    con.execute(
        "UPDATE users SET password_hash = ?, failures = 0, locked_until = NULL WHERE username = ?",
        [_hash(password, rounds), name],
    )


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM users WHERE username = ?", [name]).fetchone()[0])


def list_users(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Accounts without their hashes: [username, role, scope, sign_in, failures, locked_until]."""
    frame = con.execute(
        "SELECT username, role, directorates, teams, password_hash IS NULL AS sso_only, failures, "
        "locked_until FROM users ORDER BY username"
    ).df()
    frame["scope"] = [
        ", ".join([f"directorate {d}" for d in dirs] + [f"team {t}" for t in teams])
        for dirs, teams in zip(frame.directorates, frame.teams, strict=True)
    ]
    frame["sign_in"] = frame.sso_only.map({True: "SSO only", False: "password or SSO"})
    return frame[["username", "role", "scope", "sign_in", "failures", "locked_until"]]


def has_users(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM users").fetchone()[0])


def _principal(row: tuple, how: str) -> Principal:
    username, role, directorates, teams = row[:4]
    return Principal(username, role, frozenset(directorates or ()), frozenset(teams or ()), how=how)


def verify(
    con: duckdb.DuckDBPyConnection, username: str, password: str, now: datetime | None = None
) -> tuple[Principal | None, str]:
    """(principal, "") on the right password; (None, reason) otherwise. Counts failures, locks."""
    now = now or datetime.now()
    try:
        name = normalise(username)
    except AccountError:
        name = ""
    row = con.execute(
        "SELECT username, role, directorates, teams, password_hash, failures, locked_until "
        "FROM users WHERE username = ?", [name],
    ).fetchone()
    raw = password.encode("utf-8")[:MAX_PASSWORD_BYTES]
    if row is None or row[4] is None:
        bcrypt.checkpw(raw, decoy_hash())
        return None, "unknown"
    failures, locked_until = int(row[5]), row[6]
    if locked_until is not None and locked_until > now:
        bcrypt.checkpw(raw, decoy_hash())
        return None, "locked"
    if bcrypt.checkpw(raw, row[4].encode("ascii")):  # bcrypt compares in constant time
        con.execute("UPDATE users SET failures = 0, locked_until = NULL WHERE username = ?", [name])
        return _principal(row, "local"), ""
    failures += 1
    lock = None
    if failures >= FREE_FAILURES:
        lock = now + min(MAX_LOCK, BASE_LOCK * 2 ** (failures - FREE_FAILURES))
    con.execute("UPDATE users SET failures = ?, locked_until = ? WHERE username = ?", [failures, lock, name])
    return None, "locked" if lock else "wrong password"


def principal_for_email(con: duckdb.DuckDBPyConnection, email: str | None) -> Principal | None:
    """The role of a person signed in through SSO, looked up by their e-mail; None if not listed."""
    if not email:
        return None
    row = con.execute(
        "SELECT username, role, directorates, teams FROM users WHERE username = ?", [normalise(email)]
    ).fetchone()
    return _principal(row, "sso") if row else None


def valid_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role
