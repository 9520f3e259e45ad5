"""Admin page: the audit trail and user accounts; every action checked and recorded server side."""
from __future__ import annotations

import streamlit as st

from dashboard.auth import access, accounts, audit
from dashboard.present import plaintext
from dashboard.ui import auth, cache


def _trail() -> None:
    auth.require("audit")
    cur = cache.cursor()
    try:
        trail = audit.read(cur)
    finally:
        cur.close()
    st.caption("Append-only: every sign-in, refusal, page and scope viewed, export, import, undo, "
               "intervention change, demo removal, setting and user change. It holds names of pages "
               "and scopes and counts, never staff identifiers or health figures.")
    st.dataframe(trail, hide_index=True, width="stretch")
    auth.download_csv("Download the audit trail (CSV)", trail, "audit_trail.csv", key="admin_audit_csv",
                      what="audit trail")


def _users() -> None:
    auth.require("users")
    cur = cache.cursor()
    try:
        users = accounts.list_users(cur)
    finally:
        cur.close()
    st.dataframe(users, hide_index=True, width="stretch")
    st.caption("Roles: " + "; ".join(f"{r}: {t}" for r, t in access.ROLE_TEXT.items()) + ". For single "
               "sign-on, add the person's e-mail address with no password.")
    with st.form("admin_add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        c1, c2 = st.columns(2)
        name = c1.text_input("User name or e-mail", key="admin_new_name")
        role = c2.selectbox("Role", access.ROLES, index=3, key="admin_new_role")
        dirs = c1.text_input("Directorates (managers; comma-separated)", key="admin_new_dirs")
        teams = c2.text_input("Teams (managers; comma-separated)", key="admin_new_teams")
        password = st.text_input("Password (empty: single sign-on only)", type="password",
                                 key="admin_new_password")
        if st.form_submit_button("Add user"):
            _change("add", lambda con: accounts.add_user(con, name, role, password or None, dirs, teams),
                    f"added {accounts.normalise(name) if name.strip() else ''} as {role}")
    names = list(users.username)
    if not names:
        return
    c1, c2 = st.columns(2)
    with c1.form("admin_reset"):
        who = st.selectbox("Reset the password of", names, key="admin_reset_who")
        password = st.text_input("New password", type="password", key="admin_reset_password")
        if st.form_submit_button("Reset password"):
            _change("reset", lambda con: accounts.reset_password(con, who, password),
                    f"reset the password of {who}")
    with c2.form("admin_remove"):
        who_rm = st.selectbox("Remove", names, key="admin_remove_who")
        sure = st.checkbox("I understand this person can no longer sign in", key="admin_remove_sure")
        if st.form_submit_button("Remove user") and sure:
            _change("remove", lambda con: accounts.remove_user(con, who_rm), f"removed {who_rm}")


def _change(what: str, fn, detail: str) -> None:
    auth.require("users")
    cur = cache.cursor()
    try:
        fn(cur)
    except ValueError as err:
        st.error(f"Not done: {plaintext.md(str(err))}.")
        return
    finally:
        cur.close()
    auth.record("user", detail)
    st.success(plaintext.md(detail[0].upper() + detail[1:]) + ".")


def render() -> None:
    st.title("Admin")
    auth.require("audit")
    trail, users = st.tabs(["Audit trail", "Users"])
    with users:
        _users()
    with trail:
        _trail()
