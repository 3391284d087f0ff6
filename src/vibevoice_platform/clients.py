"""What the command-line clients (vibevoice-smoke, vibevoice-bench) share: base URLs checked before
anything runs, and the API key they send to protected services (`Authorization: Bearer KEY`), read
from a file or the environment, never from the command line (where `ps` and shell history show it)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from vibevoice_platform.config import http_url

API_KEY_ENV = "VIBEVOICE_API_KEY"


class ApiKeyError(ValueError):
    """The key file cannot be read, or holds no key."""


def url_argument(value: str) -> str:
    """argparse `type=` for a service's base URL: an http(s) URL with a host (no trailing slash)."""
    try:
        return http_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_api_key_argument(parser: argparse.ArgumentParser) -> None:
    """`--api-key-file`, which `api_key` reads."""
    parser.add_argument(
        "--api-key-file",
        type=Path,
        help=f"file holding the API key sent (Bearer) to services that require one [default: ${API_KEY_ENV}]",
    )


def api_key(path: Path | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The key in `path` (surrounding blanks dropped), else `$VIBEVOICE_API_KEY`, else None."""
    if path is None:
        return environ.get(API_KEY_ENV) or None
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ApiKeyError(f"--api-key-file {path}: {exc.strerror or exc}") from None
    if not key:
        raise ApiKeyError(f"--api-key-file {path} is empty")
    return key


def bearer(key: str | None) -> dict[str, str]:
    """The Authorization header for `key` (none without one)."""
    return {"Authorization": f"Bearer {key}"} if key else {}
