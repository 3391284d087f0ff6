"""The GPU smoke: the TTS `cuda` image on an engine that sees NVIDIA GPUs, vibevoice-smoke against it.

It is for a self-hosted runner with a GPU (its Dagger engine started with GPU support); GitHub's hosted
runners have none, so it is never part of `ci`. The service runs the realtime model on CUDA; the weights
are fetched at start into a cache volume (or read from a path in the image), never baked in, so the
first run waits for the download and later runs only for the load.
"""

from __future__ import annotations

from vibevoice_ci.images.catalog import CUDA_IMAGE

TARGET = CUDA_IMAGE.target
(PLATFORM,) = CUDA_IMAGE.only_platforms  # the CUDA image is built for amd64 only
DEFAULT_MODEL = "microsoft/VibeVoice-Realtime-0.5B"
# Fetching about 2 GB and loading it: the image's HEALTHCHECK allows a 600 s start period too.
DEFAULT_WAIT_S = 900.0
MODEL_CACHE_VOLUME = "vibevoice-model-cache"
MODEL_CACHE_PATH = "/var/cache/huggingface"  # HF_HOME, where the Helm chart mounts its cache too
RUNTIME_OWNER = "10001:10001"  # the image's non-root user must write the weights cache
RUN_ID_VARIABLE = "VIBEVOICE_GPU_SMOKE_RUN"  # set to the time of the call: the smoke runs every time


def service_env(model: str) -> dict[str, str]:
    """The TTS service's settings: the realtime family on CUDA (never a silent fall-back to a CPU)."""
    chosen = model.strip()
    if not chosen:
        msg = "the model is empty: give a model id (e.g. microsoft/VibeVoice-Realtime-0.5B) or a path"
        raise ValueError(msg)
    return {
        "VIBEVOICE_TTS_ENGINE": "vibevoice",
        "VIBEVOICE_TTS_MODEL": chosen,
        "VIBEVOICE_TTS_MODEL_FAMILY": "realtime",
        "VIBEVOICE_TTS_DEVICE": "cuda",
        "HF_HOME": MODEL_CACHE_PATH,
    }


def smoke(tts_url: str, wait_s: float = DEFAULT_WAIT_S) -> list[str]:
    """vibevoice-smoke against the TTS alone, waiting up to `wait_s` for it to be ready."""
    if wait_s <= 0:
        msg = f"the wait must be positive, not {wait_s}"
        raise ValueError(msg)
    return ["vibevoice-smoke", "--tts-url", tts_url, "--wait", f"{wait_s:g}"]
