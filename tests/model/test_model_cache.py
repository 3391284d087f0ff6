"""The processor's text tokenizer comes from the model cache, offline, as an air-gapped install runs.

Both model packages' processors load a Qwen tokenizer by the name in the model's
`preprocessor_config.json`: a second hub repository that the model cache must hold. Each case runs in
its own process with `HF_HOME` and `HF_HUB_OFFLINE=1` in its environment, which is where
huggingface_hub reads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vibevoice_platform.tts.engines.vibevoice_tiny import tiny_tokenizer

pytestmark = pytest.mark.model
QWEN = "Qwen/Qwen2.5-0.5B"
REVISION = "0123456789abcdef0123456789abcdef01234567"
# The binding's processor step alone; `dict` stands for the processor class, to show what it was given.
LOAD_PROCESSOR = """
import sys
from vibevoice_platform.tts.engines.vibevoice_realtime import RealtimeBinding
from vibevoice_platform.tts.errors import EngineError

binding = RealtimeBinding(model_path=sys.argv[1], voices_dir=None, device="cpu", dtype="float32",
                          cfg_scale=1.5, diffusion_steps=5)
try:
    print("loaded", binding.load_processor(dict)["tokenizer"].name_or_path)
except EngineError as exc:
    print(exc.message)
"""


def load_processor_offline(model: str, hf_home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env |= {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PROCESSOR, model],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "VibeVoice-Realtime-0.5B"
    folder.mkdir()
    config = {"speech_tok_compress_ratio": 3200, "language_model_pretrained_name": QWEN}
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    return folder


def test_a_tokenizer_missing_from_the_cache_is_named_with_where_it_was_looked_for(
    model_dir: Path, tmp_path: Path
) -> None:
    message = load_processor_offline(str(model_dir), tmp_path / "hf")
    assert message.startswith(
        f"the text tokenizer {QWEN} (language_model_pretrained_name in the preprocessor_config.json of "
        f"{model_dir}) is not in the model cache ({tmp_path / 'hf' / 'hub'}) and HF_HUB_OFFLINE is set"
    )


def test_the_tokenizer_loads_offline_from_the_cache(model_dir: Path, tmp_path: Path) -> None:
    # The hub cache's layout, as the chart's init container (huggingface_hub) fills it.
    repo = tmp_path / "hf" / "hub" / f"models--{QWEN.replace('/', '--')}"
    tiny_tokenizer().save_pretrained(repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    assert load_processor_offline(str(model_dir), tmp_path / "hf") == f"loaded {QWEN}"


def test_a_model_missing_from_the_cache_is_named(tmp_path: Path) -> None:
    message = load_processor_offline("microsoft/VibeVoice-Realtime-0.5B", tmp_path / "hf")
    assert message.startswith(
        "the preprocessor_config.json of microsoft/VibeVoice-Realtime-0.5B is not in the model cache"
    )
