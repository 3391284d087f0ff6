"""The GPU smoke's command line, run for real against `vibevoice-tts --model tiny-random`: the same
engine code the GPU runs, on a CPU (it needs the model packages, like the `model` tests). What the
`gpu` functions wire around it is the recording's (test_invariants).
"""

from __future__ import annotations

import subprocess

import pytest
from vibevoice_ci.gpu import settings

from tests.model.conftest import LONGFORM_MODULE, MODEL_PACKAGES, require_modules
from tests.support.processes import SCRIPTS, free_port, running


@pytest.mark.model
@pytest.mark.integration
def test_the_smoke_command_line_passes_against_the_vibevoice_engine_on_a_cpu() -> None:
    require_modules((*MODEL_PACKAGES, LONGFORM_MODULE), "`make model-deps` (tiny-random is long-form code)")
    port = free_port()
    command = ["vibevoice-tts", "--engine", "vibevoice", "--model", "tiny-random", "--port", str(port)]
    with running(command, port=port, ready_path="/health", timeout=120) as tts:
        argv = settings.smoke(tts.url, 120)
        argv[0] = str(SCRIPTS / argv[0])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   tts speech" in result.stdout
    assert result.stdout.strip().endswith("smoke test passed")
