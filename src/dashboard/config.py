"""Settings: store path, secret path, anonymity threshold and limits (no streamlit here)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"

MIN_THRESHOLD, MAX_THRESHOLD = 3, 20


@dataclass(frozen=True)
class Settings:
    db_path: Path
    secret_path: Path
    anonymity_threshold: int
    day_count: str
    long_term_days: int
    max_upload_mb: int
    show_bradford: bool = True


def _settings_file() -> dict:
    with open(DATA_DIR / "settings.toml", "rb") as fh:
        return tomllib.load(fh)


DEFAULT_KEY_PATH = "~/.config/wellbeing-compass/pseudonym.key"


def key_path(raw: dict) -> Path:
    """[security] key_path: '~' expands to the home folder; a relative path is from the project root."""
    path = Path(raw.get("security", {}).get("key_path", DEFAULT_KEY_PATH)).expanduser()
    return path if path.is_absolute() else ROOT / path


def settings() -> Settings:
    """Read settings; environment variables override data/settings.toml."""
    raw = _settings_file()
    db = Path(os.environ.get("WELLBEING_DB", DATA_DIR / "wellbeing.duckdb"))
    # The pseudonymisation key must live outside the database it protects, and by default outside
    # its folder too, so that one copy of the store's folder never carries both.
    secret = Path(os.environ.get("WELLBEING_SECRET") or key_path(raw))
    threshold = int(os.environ.get("WELLBEING_THRESHOLD", raw["privacy"]["anonymity_threshold"]))
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        raise ValueError(
            f"anonymity threshold {threshold} is outside {MIN_THRESHOLD}-{MAX_THRESHOLD}"
        )
    return Settings(
        db_path=db,
        secret_path=secret,
        anonymity_threshold=threshold,
        day_count=raw["absence"]["day_count"],
        long_term_days=int(raw["absence"]["long_term_days"]),
        max_upload_mb=int(raw["limits"]["max_upload_mb"]),
        show_bradford=bool(raw["absence"].get("show_bradford", True)),
    )

