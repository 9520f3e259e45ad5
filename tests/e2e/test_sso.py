"""Browser test: with single sign-on configured, the sign-in button sends the browser to the
identity provider's authorisation endpoint (a local stand-in for Entra ID, so it runs offline)."""
from __future__ import annotations

import importlib.util
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.ui import auth
from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e

# the server runs on this interpreter: st.login's server side needs Authlib and httpx there
READY = all(importlib.util.find_spec(m) is not None for m in auth.SSO_NEEDS)
CLIENT_ID = "wellbeing-compass-test"
REDIRECT = "http://127.0.0.1:8501/oauth2callback"


@pytest.fixture
def provider():
    """An OpenID provider that serves only its discovery document and a sign-in page; every
    request it sees is recorded."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/.well-known/openid-configuration":
                body = json.dumps({
                    "issuer": base,
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token",
                    "jwks_uri": f"{base}/keys",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }).encode()
                kind = "application/json"
            else:
                body, kind = b"<html><title>Provider sign-in</title><body>Sign in</body></html>", "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _sso_server(server_factory, db, issuer: str, tmp_path) -> str:
    """A server whose secrets.toml (in a folder of its own) configures SSO with `issuer`."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{REDIRECT}"\n'
        'cookie_secret = "a-cookie-secret-for-the-test-only-0123456789"\n'
        f'client_id = "{CLIENT_ID}"\n'
        'client_secret = "not-a-real-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    return server_factory(db, args=["--secrets.files", str(secrets)])


def _sign_in_button(page, base: str):
    page.goto(f"{base}/")
    wait_for_app(page)
    # with SSO configured even the demo asks who you are
    button = page.get_by_role("button", name="Sign in with your organisation account")
    button.wait_for()
    assert page.locator("[data-testid='dataset-banner']").count() == 0
    return button


@pytest.mark.skipif(not READY, reason="httpx (streamlit[auth], requirements.txt) is not installed here")
def test_sign_in_button_starts_the_redirect_to_the_provider(server_factory, demo_db, page, provider,
                                                            tmp_path):
    issuer, seen = provider
    base = _sso_server(server_factory, demo_db, issuer, tmp_path)
    _sign_in_button(page, base).click()
    page.wait_for_url(re.compile(re.escape(f"{issuer}/authorize") + r"\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT]
    assert query["response_type"] == ["code"]
    assert "openid" in query["scope"][0].split()
    assert query["state"][0] and query["nonce"][0]
    # the app read the provider's discovery document before sending the browser there
    assert "/.well-known/openid-configuration" in seen
    assert any(p.startswith("/authorize?") for p in seen)


@pytest.mark.skipif(READY, reason="the packages SSO needs are installed")
def test_without_the_sso_packages_the_sign_in_page_says_why(server_factory, demo_db, page, provider,
                                                            tmp_path):
    """Without httpx, st.login ends in a bare server error: the page says why instead."""
    issuer, _ = provider
    button = _sign_in_button(page, _sso_server(server_factory, demo_db, issuer, tmp_path))
    page.get_by_text(auth.SSO_MISSING).wait_for()
    assert button.is_disabled()
