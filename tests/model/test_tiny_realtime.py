"""`--model tiny-random` on Microsoft's realtime package, behind a real `vibevoice-tts` process.

Microsoft's package is installed in the cuda image (its `test-cuda` stage runs these tests there) and
cannot be installed on the development machines (it is not on PyPI). The tests that need it are marked
`realtime`: where the package is absent they are deselected (tests/conftest.py), so they are neither
run nor counted as passed there; where it is installed, the tiny realtime model streams over HTTP and
WebSocket and stops within a step on a hang-up or a WebSocket cancel, and saved as a model folder it
loads the way a downloaded model does and ends at its own end of speech. (Without the package the
realtime family fails to load naming it: test_realtime_binding.py, wherever torch is.)
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from tests.model.conftest import LOAD_TIMEOUT_S
from tests.model.observe import (
    FRAME_BYTES,
    generation_records,
    generation_threads,
    next_generation_record,
    wait_for,
)
from tests.support.processes import Service, free_port, running, wait_until_ok
from tests.support.realtime import realtime_package_installed
from vibevoice_platform.audio import WAV_HEADER_SIZE, parse_wav_header
from vibevoice_platform.tts.engines import build_engine
from vibevoice_platform.tts.engines.base import no_progress
from vibevoice_platform.tts.engines.vibevoice_tiny import (
    FRAME_SAMPLES,
    NEVER,
    VOICE_PROMPTS,
    TinyRealtimeBinding,
)
from vibevoice_platform.tts.settings import TTSSettings

pytestmark = [pytest.mark.model, pytest.mark.integration]
LONG = "This sentence is spoken again and again to make a long stream of speech. " * 50


@pytest.fixture(scope="module")
def tiny_realtime() -> Iterator[Service]:
    port = free_port()
    command = [
        "vibevoice-tts",
        "--engine", "vibevoice",
        "--model", "tiny-random",
        "--model-family", "realtime",
        "--device", "cpu",
        "--max-concurrency", "1",
        "--max-queue", "0",
        "--port", str(port),
    ]  # fmt: skip
    with running(command, port=port, ready_path="/health", timeout=LOAD_TIMEOUT_S) as service:
        wait_until_ok(f"{service.url}/ready", service.process, service.log, LOAD_TIMEOUT_S)
        yield service


@pytest.mark.realtime
def test_it_loads_the_realtime_classes(tiny_realtime: Service) -> None:
    ready = httpx.get(f"{tiny_realtime.url}/ready")
    assert ready.status_code == 200
    assert {"tiny-low", "tiny-high", "alloy"} <= set(ready.json()["voices"])
    loaded = next(
        json.loads(line) for line in tiny_realtime.output().splitlines() if '"model loaded"' in line
    )
    assert {k: loaded[k] for k in ("family", "device", "attention", "threads")} == {
        "family": "realtime",
        "device": "cpu",
        "attention": "sdpa",
        "threads": 1,
    }


@pytest.mark.realtime
def test_speech_streams_frames_while_the_model_generates(tiny_realtime: Service) -> None:
    service = tiny_realtime
    seen = len(generation_records(service))
    body = {"model": "tiny-random", "input": "Hello there. " * 6, "voice": "alloy", "response_format": "wav"}
    audio = bytearray()
    threads_after_three_frames: list[str] | None = None
    with httpx.stream(
        "POST", f"{service.url}/v1/audio/speech", json=body, timeout=LOAD_TIMEOUT_S
    ) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        for data in response.iter_raw():
            audio += data
            if threads_after_three_frames is None and len(audio) >= WAV_HEADER_SIZE + 3 * FRAME_BYTES:
                threads_after_three_frames = generation_threads(service)
    assert threads_after_three_frames == ["vibevoice-gen"]
    assert parse_wav_header(bytes(audio[:WAV_HEADER_SIZE])) == (24_000, 1, 16)
    record = next_generation_record(service, seen)
    assert record["msg"] == "generation done"
    assert record["nonfinite_samples"] == 0
    assert len(audio) - WAV_HEADER_SIZE == record["chunks"] * FRAME_BYTES > 3 * FRAME_BYTES


@pytest.mark.realtime
def test_the_websocket_speaks_each_sentence(tiny_realtime: Service) -> None:
    service = tiny_realtime
    seen = len(generation_records(service))

    async def session() -> tuple[int, dict[str, Any]]:
        async with connect(service.url.replace("http://", "ws://") + "/v1/audio/stream") as ws:
            await ws.send(json.dumps({"type": "start", "voice": "tiny-high"}))
            assert json.loads(await ws.recv())["voice"] == "tiny-high"
            await ws.send(json.dumps({"type": "text", "text": "Hello there. How are you"}))
            await ws.send(json.dumps({"type": "text", "text": " today?"}))
            await ws.send(json.dumps({"type": "end"}))
            audio = 0
            with anyio.fail_after(LOAD_TIMEOUT_S):
                while isinstance(message := await ws.recv(), bytes):
                    audio += len(message)
            return audio, json.loads(message)

    audio, done = anyio.run(session)
    assert (done["type"], done["cancelled"]) == ("done", False)
    records = generation_records(service)[seen:]
    assert [r["msg"] for r in records] == ["generation done", "generation done"]  # two sentences
    assert audio == sum(r["chunks"] for r in records) * FRAME_BYTES


@pytest.mark.realtime
def test_a_hang_up_stops_generation_within_a_step(tiny_realtime: Service) -> None:
    service = tiny_realtime
    seen = len(generation_records(service))
    body = {"model": "tts-1", "input": LONG, "response_format": "pcm"}
    with httpx.stream(
        "POST", f"{service.url}/v1/audio/speech", json=body, timeout=LOAD_TIMEOUT_S
    ) as response:
        chunks = response.iter_raw()
        received = 0
        while received < 3 * FRAME_BYTES:
            received += len(next(chunks))
        assert generation_threads(service) == ["vibevoice-gen"]
    assert wait_for(lambda: not generation_threads(service)), "generation outlived the client"
    record = next_generation_record(service, seen)
    assert record["msg"] == "generation stopped"
    assert record["chunks_after_stop"] <= 1  # the step in flight, and no more
    assert record["chunks"] < 100


@pytest.mark.anyio
async def test_auto_builds_the_tiny_model_for_the_package_installed(caplog: pytest.LogCaptureFixture) -> None:
    engine = build_engine(TTSSettings(engine="vibevoice", model="tiny-random", device="cpu"))
    with caplog.at_level(logging.INFO, "vibevoice_platform.tts.engines.vibevoice_runtime"):
        await engine.load()
    loaded = next(record for record in caplog.records if record.msg == "model loaded")
    assert loaded.__dict__["family"] == ("realtime" if realtime_package_installed() else "longform")
    assert engine.native_voices == ("tiny-low", "tiny-high")


@pytest.mark.realtime
def test_a_websocket_cancel_stops_generation_within_a_step(tiny_realtime: Service) -> None:
    service = tiny_realtime

    async def cancel_mid_sentence() -> tuple[int, dict[str, Any]]:
        async with connect(service.url.replace("http://", "ws://") + "/v1/audio/stream") as ws:
            await ws.send(json.dumps({"type": "start", "voice": "tiny-low"}))
            await ws.recv()  # started
            await ws.send(json.dumps({"type": "text", "text": LONG}))  # 50 sentences
            audio = 0
            with anyio.fail_after(LOAD_TIMEOUT_S):
                while audio < 3 * FRAME_BYTES:
                    if isinstance(frame := await ws.recv(), bytes):
                        audio += len(frame)
                seen = len(generation_records(service))
                await ws.send(json.dumps({"type": "cancel"}))
                while not isinstance(message := await ws.recv(), str):
                    pass  # frames already on their way
            return seen, json.loads(message)

    seen, done = anyio.run(cancel_mid_sentence)
    assert (done["type"], done["cancelled"]) == ("done", True)
    assert wait_for(lambda: not generation_threads(service)), "generation outlived the cancel"
    record = next_generation_record(service, seen)
    assert record["msg"] == "generation stopped"
    assert record["chunks_after_stop"] <= 1


def save_tiny_realtime_model(folder: Path) -> None:
    """The tiny realtime model as a model folder, laid out as a downloaded one: weights and config by
    `save_pretrained`, a preprocessor_config.json naming its text tokenizer's folder, the voice presets
    as `.pt` files. Its end-of-speech classifier says yes at once, so the model ends by itself."""
    torch = importlib.import_module("torch")
    tiny = TinyRealtimeBinding(device="cpu", dtype="float32", cfg_scale=1.5, diffusion_steps=5)
    tiny.load(no_progress)
    tiny.model.tts_eos_classifier.fc2.bias.data.fill_(-NEVER)
    tiny.model.save_pretrained(folder)
    tiny.processor.tokenizer.save_pretrained(folder / "tokenizer")
    config = {
        "speech_tok_compress_ratio": FRAME_SAMPLES,
        "language_model_pretrained_name": str(folder / "tokenizer"),
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    (folder / "voices").mkdir()
    with torch.inference_mode():
        for name, prompt in VOICE_PROMPTS.items():
            torch.save(tiny.prefill(prompt), folder / "voices" / f"{name}.pt")


# Microsoft's DPM solver calls np.array on a torch tensor, whose __array__ takes no `copy`: NumPy 2 warns
# (filterwarnings=error would fail the test on it); the service, another process, runs with the default
# filters, which do not show it. The --model tiny-random tests meet it only in that process.
@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
@pytest.mark.realtime
@pytest.mark.anyio
async def test_a_model_folder_loads_with_the_real_classes_and_its_end_of_speech_ends_the_audio(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The way a downloaded model goes, which `--model tiny-random` does not take: `from_pretrained` of
    weights and config from a folder, the tokenizer its preprocessor_config.json names, presets by
    torch.load. Then the model's own end of speech: the real loop goes on making the rest of its
    6-frame window, and none of it is sent."""
    folder = tmp_path / "tiny-realtime"
    settings = TTSSettings(engine="vibevoice", model=str(folder), model_family="realtime", device="cpu")
    save_tiny_realtime_model(folder)
    engine = build_engine(settings)
    await engine.load()
    assert engine.native_voices == ("tiny-high", "tiny-low")
    with caplog.at_level(logging.INFO, "vibevoice_platform.tts.engines.vibevoice"):
        audio = [chunk async for chunk in engine.synthesize(LONG, voice="tiny-low", speed=1.0)]
    assert [len(chunk) for chunk in audio] == [FRAME_BYTES]  # end of speech after the first frame
    done = next(record for record in caplog.records if record.msg == "generation %s")
    assert done.args == ("done",)
    # The scaling buffers came from the saved weights (they are NaN in a model built without them).
    assert (done.__dict__["chunks"], done.__dict__["nonfinite_samples"]) == (1, 0)
