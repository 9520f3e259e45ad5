"""How tests sign in: real accounts in the test's store, signed in through the real form."""
from __future__ import annotations

from pathlib import Path

from dashboard import store
from dashboard.auth import accounts

PASSWORD = "correct horse battery"
ROUNDS = 4  # bcrypt's cheapest cost keeps tests fast; the app's own accounts use accounts.ROUNDS


def add_user(db: Path | str, name: str, role: str, directorates=(), teams=(), password: str = PASSWORD):
    """Create an account in the store at db (the app must not be holding the file)."""
    con = store.connect(db)
    try:
        return accounts.add_user(con, name, role, password, directorates, teams, rounds=ROUNDS)
    finally:
        con.close()


def sign_in(at, name: str, password: str = PASSWORD):
    """Fill in and submit the sign-in form of an AppTest, as a person would."""
    at.text_input(key="signin_user").input(name)
    at.text_input(key="signin_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at
