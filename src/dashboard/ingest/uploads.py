"""Uploaded bytes in a private (0700) temp folder that lives only as long as the import it feeds."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "wellbeing_upload_"


def save(data: bytes, file_name: str, root: Path | None = None) -> Path:
    """Write an upload into a fresh folder only this user can open; returns the file's path.

    Each upload gets its own mkdtemp folder (mode 0700) directly in the system temp directory, whose
    sticky bit stops other users renaming or replacing it; the file itself is 0600.
    """
    if root is not None:
        Path(root).mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    path = folder / f"upload{Path(file_name).suffix.lower()}"
    with open(path, "xb") as fh:
        path.chmod(0o600)
        fh.write(data)
    return path


def discard(path: Path | str | None) -> None:
    """Delete an upload and its private folder (safe to call twice, or with None)."""
    if path is None:
        return
    folder = Path(path).parent
    if folder.name.startswith(PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
    else:
        Path(path).unlink(missing_ok=True)


def sweep(root: Path | None = None, max_age_s: float = 24 * 3600) -> int:
    """Remove upload folders left behind by a server that stopped mid-import; returns how many."""
    base = Path(root or tempfile.gettempdir())
    cutoff = time.time() - max_age_s
    removed = 0
    for folder in base.glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError):
            if folder.is_dir() and folder.stat().st_uid == os.getuid() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed
