"""The sign-in gate (SSO through st.login, local accounts otherwise), the session's principal, audit."""
from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator

import pandas as pd
import streamlit as st

from dashboard import store
from dashboard.auth import access, accounts, audit
from dashboard.auth.access import Denied, Principal
from dashboard.present import plaintext
from dashboard.ui import cache

FIRST_USER = (
    "python -m dashboard user add YOUR.NAME --role admin"
)
SSO_NEEDS = ("authlib", "httpx")
SSO_MISSING = ("Single sign-on is configured, but this server cannot start it: the packages "
               f"{' and '.join(SSO_NEEDS)} (streamlit[auth]) are not all installed. An administrator "
               "installs the requirements again (make install); meanwhile local accounts still work.")
# Query parameters that say which part of the organisation a page shows (for the audit trail).
SCOPE_PARAMS = ("dir", "team", "view", "wave", "scope")


def current() -> Principal | None:
    return cache.principal()


def _set(principal: Principal | None) -> None:
    if principal is None:
        st.session_state.pop(cache.PRINCIPAL_KEY, None)
    else:
        st.session_state[cache.PRINCIPAL_KEY] = principal


def record(action: str, detail: str = "", scope: str = "", who: Principal | None = None) -> None:
    """Append to the audit trail as the signed-in principal."""
    p = who or current()
    cur = cache.cursor()
    try:
        audit.record(cur, p.name if p else "nobody signed in", p.role if p else None, action, detail,
                     scope or (p.scope_text() if p else ""))
    finally:
        cur.close()


def sso_configured() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section for st.login."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _still_valid(con, p: Principal, info: dict) -> Principal | None:
    """Re-read the account each run, so a removed user or changed role takes effect at once."""
    if p.how == "demo":
        demo_ok = info["is_demo"] and not accounts.has_users(con) and not sso_configured()
        return p if demo_ok else None
    row = con.execute(
        "SELECT username, role, directorates, teams FROM users WHERE username = ?", [p.name]
    ).fetchone()
    if row is None:
        return None
    return Principal(row[0], row[1], frozenset(row[2] or ()), frozenset(row[3] or ()), how=p.how)


def gate(before_screen: Callable[[], object] | None = None) -> Principal | None:
    """The principal of this session, or None after drawing the sign-in screen (caller stops).

    before_screen runs just before the sign-in screen is drawn (the router uses it to keep the
    page and query the person asked for, so a deep link still lands there after signing in)."""
    con = cache.cursor()
    try:
        info = store.dataset_info(con)
        p = current()
        if p is not None:
            p = _still_valid(con, p, info)
            _set(p)
            if p is not None:
                return p
        users = accounts.has_users(con)
        sso = sso_configured()
        if info["is_demo"] and not users and not sso:
            # The fictional demo opens at once so `make run` shows the app; real data never does.
            _set(access.DEMO_VISITOR)
            return access.DEMO_VISITOR
        if sso and getattr(st.user, "is_logged_in", False):
            return _sso_principal(con)
        if before_screen is not None:
            before_screen()
        _sign_in_screen(con, users, sso)
        return None
    finally:
        con.close()


def _sso_principal(con) -> Principal | None:
    email = st.user.get("email") or st.user.get("preferred_username")
    p = accounts.principal_for_email(con, email)
    if p is None:
        audit.record(con, "unlisted SSO account", None, "sign-in failed", "SSO account without a role")
        st.title("Wellbeing Compass")
        st.error("Your organisation account signed in, but it has no role in Wellbeing Compass. Ask an "
                 "administrator to add it: python -m dashboard user add YOUR.EMAIL --role viewer")
        st.button("Sign out", on_click=st.logout)
        return None
    _set(p)
    audit.record(con, p.name, p.role, "sign-in", "single sign-on", p.scope_text())
    return p


def _sign_in_screen(con, users: bool, sso: bool) -> None:
    st.title("Wellbeing Compass")
    if not users and not sso:
        st.warning(
            "This store holds real data and nobody can sign in yet. An administrator creates the "
            "first account on the server, with the app stopped:"
        )
        st.code(FIRST_USER, language="sh")
        st.caption("It asks for a password twice. Then restart the app and sign in here. See README "
                   "(Signing in) for single sign-on with your organisation's accounts.")
        return
    st.subheader("Sign in")
    if users:
        accounts.decoy_hash()  # made before any attempt: the first unknown name takes no longer
    if sso:
        # st.login's server side imports Authlib's Starlette client, which needs httpx
        # (streamlit[auth]); without it the button would end in a bare server error
        ready = all(importlib.util.find_spec(m) is not None for m in SSO_NEEDS)
        if not ready:
            st.error(SSO_MISSING)
        st.button("Sign in with your organisation account", key="signin_sso", type="primary",
                  on_click=st.login, disabled=not ready)
    if users:
        with st.form("signin", clear_on_submit=True):
            name = st.text_input("User name", key="signin_user")
            password = st.text_input("Password", type="password", key="signin_password")
            submitted = st.form_submit_button("Sign in")
        if submitted:
            p, why = accounts.verify(con, name, password)
            if p is None:
                known = why != "unknown"
                audit.record(con, accounts.normalise(name) if known else "unknown account", None,
                             "sign-in failed", why if known else "unknown user name")
                st.error("Wrong user name or password, or the account is locked for a while after "
                         "repeated failures.")
                return
            _set(p)
            audit.record(con, p.name, p.role, "sign-in", "password", p.scope_text())
            st.rerun()


def sidebar(p: Principal) -> None:
    """Who is signed in, their role and scope, and a way out."""
    with st.sidebar:
        if p.how == "demo":
            st.caption("Demo organisation: open without sign-in. Real data always needs sign-in.")
            return
        st.caption(f"Signed in as {plaintext.md(p.name)} · {p.role} · {plaintext.md(p.scope_text())}")
        st.button("Sign out", key="signout", on_click=sign_out)


def sign_out() -> None:
    p = current()
    if p is not None:
        record("sign-out", who=p)
    _set(None)
    if p is not None and p.how == "sso":
        st.logout()


def require(action: str) -> Principal:
    """Server-side check before a write or an export; a refusal is audited and raised."""
    p = current()
    try:
        return access.require(p, action)
    except Denied as exc:
        record("refused", f"{action}: {exc}")
        raise


def viewed(page: str) -> None:
    """Record the page and scope once each time either changes in this session."""
    params = {k: st.query_params[k] for k in SCOPE_PARAMS if k in st.query_params}
    scope = " ".join(f"{k}={v}" for k, v in params.items())
    key = (page, scope)
    if st.session_state.get("auth_last_view") == key:
        return
    st.session_state["auth_last_view"] = key
    p = current()
    record("view", page, f"{p.scope_text() if p else ''}{'; ' if scope else ''}{scope}")


@contextlib.contextmanager
def refusals(what: str = "this view") -> Iterator[None]:
    """Show a refusal inside a page section instead of failing the whole page."""
    try:
        yield
    except Denied as exc:
        record("refused", f"{what}: {exc}")
        st.info(f"Not available to you: {plaintext.md(str(exc))}.", icon=":material/lock:")


def download_csv(label: str, frame: pd.DataFrame, file_name: str, key: str, what: str) -> None:
    """Every CSV download: needs the export right, formula cells neutralised, audited on click."""
    require("export")
    st.download_button(
        label, plaintext.csv_bytes(frame), file_name=file_name, mime="text/csv", key=key,
        on_click=record, args=("export", f"{what} ({len(frame)} rows)"),
    )
