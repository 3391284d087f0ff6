"""The tool image pins (ci/images/<tool>/Dockerfile): every image the pipeline runs its tools in,
pinned by tag and digest.
"""

from __future__ import annotations

import re

import pytest
from vibevoice_ci.core import pins

from tests.support.tools import ROOT


@pytest.mark.parametrize("tool", pins.TOOLS)
def test_every_tool_image_is_pinned_by_a_well_formed_digest(tool: str) -> None:
    text = (ROOT / pins.pin_path(tool)).read_text(encoding="utf-8")
    pin = pins.parse_pin(tool, text)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin.digest)
    assert pin.reference == f"{pin.repository}:{pin.tag}@{pin.digest}"
    assert "Digest" in text or "digest" in text, "say where the digest came from"


def test_the_tool_folders_are_exactly_the_known_tools() -> None:
    folders = {path.name for path in (ROOT / pins.IMAGES_DIR).iterdir() if path.is_dir()}
    assert folders == set(pins.TOOLS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM python:3.12-slim\n", "not pinned"),
        ("FROM python@sha256:" + "a" * 64 + "\n", "not pinned"),  # a digest without the tag it stands for
        ("FROM python:3.12-slim@sha256:abc\n", "not pinned"),
        ("# no image\n", "exactly one FROM line, found 0"),
        ("FROM a:1@sha256:" + "a" * 64 + "\nFROM b:2@sha256:" + "b" * 64 + "\n", "found 2"),
    ],
)
def test_an_unpinned_tool_image_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pins.parse_pin("python", text)
