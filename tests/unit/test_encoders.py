"""The encoders: streamed, bytes out chunk by chunk with header rewrites dropped; whole, one complete
file; opus without libopusenc from libsndfile; aac without PyAV refused, naming what to install."""

from __future__ import annotations

import ctypes.util
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.integration.decode import decode_to_pcm16
from tests.support.inprocess import app_client
from tests.support.ogg import read_pages
from vibevoice_platform.audio import SAMPLE_RATE, duration_seconds, float_to_pcm16
from vibevoice_platform.tts import ogg_opus
from vibevoice_platform.tts.app import create_app
from vibevoice_platform.tts.encoders import encoder_for
from vibevoice_platform.tts.schemas import ResponseFormat
from vibevoice_platform.tts.settings import TTSSettings

CHUNK = float_to_pcm16(0.3 * np.sin(2 * np.pi * 330 * np.arange(SAMPLE_RATE // 10) / SAMPLE_RATE))


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac"])
def test_an_encoder_gives_bytes_as_chunks_come_and_its_output_decodes(
    response_format: ResponseFormat,
) -> None:
    encoder = encoder_for(response_format)
    outputs = [encoder.encode(CHUNK) for _ in range(20)]  # 2 s
    tail = encoder.finish()
    assert sum(1 for out in outputs[:5] if out) >= 2  # not held back until the end
    _, pcm = decode_to_pcm16(b"".join(outputs) + tail)
    assert 1.9 < duration_seconds(len(pcm)) < 2.2


@pytest.mark.parametrize("response_format", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_a_whole_file_comes_at_the_end_complete(response_format: ResponseFormat) -> None:
    encoder = encoder_for(response_format, whole=True)
    assert not any(encoder.encode(CHUNK) for _ in range(20))  # nothing until the file is complete
    whole = encoder.finish()
    if response_format == "pcm":
        assert whole == CHUNK * 20
        pcm = whole
    else:
        _, pcm = decode_to_pcm16(whole)
    assert 1.9 < duration_seconds(len(pcm)) < 2.2


@pytest.fixture(params=["absent", "broken"])
def without_libopusenc(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """As where libopusenc is not installed (the dynamic loader's search finds no such library), or
    where the loader's cache names a file that does not load."""
    broken = tmp_path / "libopusenc.so.0"
    broken.write_bytes(b"not a shared object")
    found = None if request.param == "absent" else str(broken)
    find_library = ctypes.util.find_library
    monkeypatch.setattr(
        ctypes.util, "find_library", lambda name: found if name == "opusenc" else find_library(name)
    )
    ogg_opus.libopusenc.cache_clear()
    yield
    ogg_opus.libopusenc.cache_clear()


@pytest.mark.usefixtures("without_libopusenc")
def test_opus_without_libopusenc_comes_from_libsndfile_in_second_long_pages() -> None:
    encoder = encoder_for("opus")
    outputs = [encoder.encode(CHUNK) for _ in range(20)]
    ogg = b"".join(outputs) + encoder.finish()
    codec, pcm = decode_to_pcm16(ogg)
    assert codec == "opus"
    assert 1.9 < duration_seconds(len(pcm)) < 2.2
    audio_pages = [page for page in read_pages(ogg) if page.granule]
    assert audio_pages[0].granule >= 48_000 * 9 // 10  # about a second of audio in the first page


def test_flac_streams_without_its_end_of_file_header_update() -> None:
    encoder = encoder_for("flac")
    head = encoder.encode(CHUNK)
    body = b"".join(encoder.encode(CHUNK) for _ in range(9)) + encoder.finish()
    assert head.startswith(b"fLaC")
    assert b"fLaC" not in body  # the STREAMINFO rewrite at close went nowhere: it was sent already


@pytest.mark.anyio
async def test_aac_without_pyav_is_a_400_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now fails, as where the extra is absent
    body = {"model": "tts-1", "input": "Hello.", "response_format": "aac"}
    async with app_client(create_app(TTSSettings(engine="sine"))) as client:
        response = await client.post("/v1/audio/speech", json=body)
        mp3 = await client.post("/v1/audio/speech", json={**body, "response_format": "mp3"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_value"
    assert error["param"] == "response_format"
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    (requirement,) = pyproject["project"]["optional-dependencies"]["aac"]
    assert "pip install -e '.[aac]'" in error["message"]  # from a checkout: the package is not on PyPI
    assert f"pip install '{requirement}'" in error["message"]  # or PyAV itself, as the extra pins it
    assert mp3.status_code == 200
