"""Command-line administration: user accounts, and backup/restore with the key handled apart."""
from __future__ import annotations

import argparse
import getpass
import shutil
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from dashboard import store
from dashboard.auth import access, accounts, audit
from dashboard.config import settings
from dashboard.privacy import pseudonym


def operator() -> str:
    """Who is at the command line, for the audit trail."""
    try:
        return f"command line ({getpass.getuser()})"
    except Exception:  # no login name in some containers
        return "command line"


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else settings().db_path


def _open(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    try:
        return store.connect(_db(args))
    except duckdb.IOException as exc:
        raise SystemExit(f"cannot open the store ({exc}); stop the app first: DuckDB allows one "
                         "writing process") from exc


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise accounts.AccountError("the two passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> int:
    con = _open(args)
    try:
        if args.action == "list":
            print(accounts.list_users(con).to_string(index=False))
            return 0
        if not args.name:
            print("give a user name", file=sys.stderr)
            return 1
        if args.action == "add":
            password = None if args.sso else _password(args)
            p = accounts.add_user(con, args.name, args.role, password, args.directorate, args.team)
            detail = f"added {p.name} as {p.role}" + (" (SSO only)" if args.sso else "")
            known = {r[0] for r in con.execute("SELECT directorate FROM units").fetchall()} | {
                r[0] for r in con.execute("SELECT team FROM units").fetchall()}
            unknown = sorted((p.directorates | p.teams) - known)
            if unknown and not store.is_empty(con):
                print(f"note: not in the store yet: {', '.join(unknown)}", file=sys.stderr)
        elif args.action == "remove":
            accounts.remove_user(con, args.name)
            detail = f"removed {accounts.normalise(args.name)}"
        else:
            accounts.reset_password(con, args.name, _password(args))
            detail = f"reset the password of {accounts.normalise(args.name)}"
        audit.record(con, operator(), "admin", "user", detail)
        print(detail)
        return 0
    except ValueError as exc:
        print(f"not done: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()


KEY_NOTE = (
    "The backup does NOT contain the pseudonymisation key{where}. Keep the key and the store apart: "
    "whoever holds both can re-identify staff by hashing guessed employee IDs; without the key, "
    "new imports cannot be linked to the people already in the store."
)


def cmd_backup(args: argparse.Namespace) -> int:
    db = _db(args)
    if not db.exists():
        print(f"no store at {db}", file=sys.stderr)
        return 1
    con = _open(args)
    try:
        audit.record(con, operator(), "admin", "backup", "backed up the store")
        con.execute("CHECKPOINT")
        fp = store.get_meta(con, "key_fingerprint")
    finally:
        con.close()
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{db.stem}-{datetime.now():%Y%m%d-%H%M%S}.duckdb"
    shutil.copyfile(db, target)
    target.chmod(0o600)
    print(f"store backed up to {target} (mode 0600)")
    key = settings().secret_path
    if args.key_to:
        key_dest = Path(args.key_to) / key.name
        if key_dest.resolve().parent == target.resolve().parent:
            print("refused to put the key beside the store backup; choose another place", file=sys.stderr)
            return 1
        if not key.exists():
            print(f"no key at {key} to back up", file=sys.stderr)
            return 1
        key_dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(key, key_dest)
        key_dest.chmod(0o600)
        print(f"key (fingerprint {fp}) copied separately to {key_dest} (mode 0600)")
    print(KEY_NOTE.format(where=f" (fingerprint {fp}, at {key})" if fp else ""))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    source = Path(args.backup)
    db = _db(args)
    try:
        check = duckdb.connect(str(source), read_only=True)
        version = store.schema_version(check)
        fp = store.get_meta(check, "key_fingerprint") if version else None
        check.close()
    except duckdb.Error as exc:
        print(f"{source} is not a readable store backup ({exc})", file=sys.stderr)
        return 1
    if not version:
        print(f"{source} is not a Wellbeing Compass store", file=sys.stderr)
        return 1
    key_target = settings().secret_path
    if args.key:
        key = Path(args.key).read_text().strip()
        mine = pseudonym.fingerprint(bytes.fromhex(key))
        if fp and mine != fp:
            print(f"the key {args.key} (fingerprint {mine}) is not this store's key ({fp}); nothing "
                  "restored", file=sys.stderr)
            return 1
    if db.exists():
        kept = db.with_name(f"{db.stem}.replaced-{datetime.now():%Y%m%d-%H%M%S}{db.suffix}")
        db.rename(kept)
        kept.chmod(0o600)
        print(f"the store it replaces is kept as {kept}")
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, db)
    db.chmod(0o600)
    if args.key:
        key_target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.key, key_target)
        key_target.chmod(0o600)
        print(f"key restored separately to {key_target}")
    con = _open(args)
    try:
        audit.record(con, operator(), "admin", "backup", f"restored the store from {source.name}")
    finally:
        con.close()
    print(f"store restored to {db}")
    if fp and not args.key:
        have = key_target.exists() and pseudonym.fingerprint(pseudonym.load_key(key_target)) == fp
        print(f"key: {'the key at ' + str(key_target) + ' matches' if have else 'MISSING or different'}"
              f" (this store needs fingerprint {fp}); the key is restored separately with --key FILE")
    return 0


def add_parsers(sub) -> None:
    user = sub.add_parser("user", help="manage sign-in accounts: add|remove|reset|list")
    user.add_argument("action", choices=["add", "remove", "reset", "list"])
    user.add_argument("name", nargs="?", help="user name, or the e-mail address for single sign-on")
    user.add_argument("--role", choices=access.ROLES, default="viewer")
    user.add_argument("--directorate", action="append", help="a manager's directorate (repeatable)")
    user.add_argument("--team", action="append", help="a manager's team (repeatable)")
    user.add_argument("--sso", action="store_true", help="no password: signs in through SSO only")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.set_defaults(func=cmd_user)

    backup = sub.add_parser("backup", help="copy the store to a folder; the key only with --key-to")
    backup.add_argument("dest", help="folder for the store backup")
    backup.add_argument("--key-to", help="a folder elsewhere (not the store backup's) for a key copy")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="put a store backup back; the key separately with --key")
    restore.add_argument("backup", help="a store backup file")
    restore.add_argument("--key", help="the key backup belonging to it")
    restore.set_defaults(func=cmd_restore)
