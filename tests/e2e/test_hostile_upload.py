"""In a real browser: hostile workbooks are refused on the page and the server keeps answering."""

from __future__ import annotations

import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in, wait_for_app

pytestmark = pytest.mark.e2e

UPLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"


def _healthy(base: str) -> bool:
    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10) as resp:
        return resp.status == 200 and resp.read().strip() == b"ok"


def _no_dimension(tmp_path: Path) -> Path:
    """The corner-cell workbook without its <dimension>: only the capped reader process can stop it."""
    out = tmp_path / "corner_no_dimension.xlsx"
    with zipfile.ZipFile(UPLOADS / "corner_cell.xlsx") as zin, zipfile.ZipFile(out, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:XFD1048576"/>', b"")
            zout.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out


def test_hostile_uploads_refused_and_server_still_healthy(server_factory, page, tmp_path):
    base = server_factory(None, users=[("dana", "admin")])
    sign_in(page, base, "dana", path="data")
    page.get_by_role("heading", name="Data").wait_for()
    cases = [
        (UPLOADS / "corner_cell.xlsx", "spans 16,384 columns (A1:XFD1048576)"),
        (UPLOADS / "zip_bomb.xlsx", "packed 1,017 times smaller than its contents"),
        # Used to abort the whole server ("memory allocation of 549755813888 bytes failed").
        (_no_dimension(tmp_path), "needed more than the 3,072 MB of memory a spreadsheet may use"),
    ]
    for path, reason in cases:
        page.get_by_text("Nothing is written until you have checked the preview").wait_for()
        page.locator("input[type='file']").first.set_input_files(str(path))
        alert = page.get_by_test_id("stAlertContentError").filter(has_text=reason)
        alert.wait_for(timeout=60_000)
        wait_for_app(page)
        assert page.get_by_text("The uploaded file has already been deleted from the server.").is_visible()
        assert _healthy(base)
        page.get_by_role("button", name="Upload another file").click()
        wait_for_app(page)
    assert page.locator("[data-testid='stException']").count() == 0
    # The server still serves pages after all of it.
    sign_in(page, base, "dana", path="absence")  # a new browser session signs in again
    page.get_by_role("heading", name="Absence").wait_for()
    assert _healthy(base)
