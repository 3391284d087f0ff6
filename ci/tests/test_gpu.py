"""The GPU smoke: its settings and command line, the query `gpu-smoke` builds, the smoke run for real.

No GPU and no engine here. The query is read offline (see dagger_query.py): the `cuda` target, every
GPU given to the service, the weights cache, the service's settings, the binding, the exec. The
smoke's own command line runs for real against `vibevoice-tts --model tiny-random`, the same engine
code on a CPU (it needs the model packages, like the `model` tests).
"""

from __future__ import annotations

import subprocess
from functools import partial

import anyio
import dagger
import pytest
from dagger import dag
from dagger_query import args_of, execs, fields, only
from vibevoice_ci import bench, gpu
from vibevoice_ci.main import Vibevoice

from tests.model.conftest import LONGFORM_MODULE, MODEL_PACKAGES, require_modules
from tests.support.processes import SCRIPTS, free_port, running

SOURCE = dag.directory().with_new_file("marker", "the repository")


def env(container: dagger.Container) -> dict[str, str]:
    return {args["name"]: args["value"] for args in args_of(container, "withEnvVariable")}


def test_the_service_runs_the_realtime_model_on_cuda_with_its_weights_in_the_cache() -> None:
    assert gpu.service_env(" microsoft/VibeVoice-Realtime-0.5B ") == {
        "VIBEVOICE_TTS_ENGINE": "vibevoice",
        "VIBEVOICE_TTS_MODEL": "microsoft/VibeVoice-Realtime-0.5B",
        "VIBEVOICE_TTS_MODEL_FAMILY": "realtime",
        "VIBEVOICE_TTS_DEVICE": "cuda",
        "HF_HOME": gpu.MODEL_CACHE_PATH,
    }
    with pytest.raises(ValueError, match="model is empty"):
        gpu.service_env("  ")


def test_the_smoke_checks_the_tts_alone_and_waits_for_the_model() -> None:
    assert gpu.smoke("http://tts:8000") == [
        "vibevoice-smoke",
        "--tts-url",
        "http://tts:8000",
        "--wait",
        "900",
    ]
    assert gpu.smoke("http://tts:8000", 12.5)[-1] == "12.5"
    with pytest.raises(ValueError, match="positive"):
        gpu.smoke("http://tts:8000", 0)


def test_gpu_smoke_binds_the_cuda_image_with_every_gpu_and_runs_the_smoke_against_it() -> None:
    client = Vibevoice(source=SOURCE).gpu().smoke(model="/models/VibeVoice-Realtime-0.5B", wait=300)
    assert execs(client) == [["vibevoice-smoke", "--tts-url", "http://tts:8000", "--wait", "300"]]
    assert gpu.RUN_ID_VARIABLE in env(client)  # a new value each call: the smoke is never cached
    assert only(client, "dockerBuild")["target"] == "cuda"
    binding = only(client, "withServiceBinding")
    assert binding["alias"] == "tts"
    service = binding["service"]
    build = only(service, "dockerBuild")
    assert (build["dockerfile"], build["target"], build["platform"]) == (
        "Dockerfile.tts",
        "cuda",
        "linux/amd64",
    )
    assert "experimentalWithAllGPUs" in fields(service)
    cache = only(service, "withMountedCache")
    assert (cache["path"], cache["owner"]) == ("/var/cache/huggingface", "10001:10001")
    assert env(service) == gpu.service_env("/models/VibeVoice-Realtime-0.5B")
    assert only(service, "withExposedPort")["port"] == 8000
    assert only(service, "asService")["useEntrypoint"] is True


@pytest.mark.model
@pytest.mark.integration
def test_the_smoke_command_line_passes_against_the_vibevoice_engine_on_a_cpu() -> None:
    require_modules((*MODEL_PACKAGES, LONGFORM_MODULE), "`make model-deps` (tiny-random is long-form code)")
    port = free_port()
    command = ["vibevoice-tts", "--engine", "vibevoice", "--model", "tiny-random", "--port", str(port)]
    with running(command, port=port, ready_path="/health", timeout=120) as tts:
        argv = gpu.smoke(tts.url, 120)
        argv[0] = str(SCRIPTS / argv[0])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   tts speech" in result.stdout
    assert result.stdout.strip().endswith("smoke test passed")


def test_gpu_bench_waits_for_the_model_then_measures_the_cuda_image_behind_the_agent() -> None:
    out = anyio.run(partial(Vibevoice(source=SOURCE).gpu().bench, requests=120, wait=600, enforce=False))
    runs = execs(out)
    # First the wait for the model (the service is up long before it can answer), then each scenario.
    assert runs[0] == gpu.smoke("http://tts:8000", 600)
    load = bench.Load(requests=120)
    scenarios = bench.scenarios(bench.SCENARIO_NAMES)
    assert [argv for argv in runs[1::2]] == [
        bench.run(s, load, url=bench.SERVICE_URLS[s.service], out_root=bench.OUT_DIR, sha="")
        for s in scenarios
    ]
    bindings = {args["alias"]: args["service"] for args in args_of(out, "withServiceBinding")}
    tts, agent = bindings["tts"], bindings["agent"]
    assert only(tts, "dockerBuild")["target"] == "cuda"
    assert "experimentalWithAllGPUs" in fields(tts)
    # The agent is the shipped one, bound to the GPU's TTS, not to a CPU one.
    assert only(agent, "dockerBuild")["target"] == "agent"
    assert "experimentalWithAllGPUs" in fields(only(agent, "withServiceBinding")["service"])
