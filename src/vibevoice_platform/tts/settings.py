"""TTS service settings: `VIBEVOICE_TTS_*` environment variables, overridden by `vibevoice-tts` flags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from vibevoice_platform.transport import TransportLimits

TINY_RANDOM = "tiny-random"  # the --model that builds a tiny random model in memory, either family


class TTSSettings(TransportLimits):
    """Everything `vibevoice-tts` can be told (the transport limits too, see transport.py)."""

    model_config = SettingsConfigDict(env_prefix="VIBEVOICE_TTS_", extra="ignore")

    engine: Literal["espeak", "sine", "vibevoice"] = Field(default="espeak", description="synthesis engine")
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8000, ge=0, le=65535, description="port to listen on")
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="syntheses at once (default: 1 for vibevoice, the core count otherwise)",
    )
    max_queue: int = Field(default=8, ge=0, description="requests that may wait for a slot before 429")
    queue_timeout_s: float = Field(default=10.0, gt=0, description="longest wait for a slot before 429")
    drain_s: float = Field(
        default=0.0, ge=0, description="after SIGTERM, seconds /ready answers 503 before stopping"
    )
    grace_s: int = Field(
        default=30, ge=0, description="after SIGTERM, seconds in-flight streams get to finish"
    )
    ws_idle_s: float = Field(default=60.0, gt=0, description="WebSocket sessions idle this long are closed")
    load_stall_s: float = Field(
        default=0.0,
        ge=0,
        description="while the engine loads, /health answers 503 once the load has made no progress "
        "(a step: a part of the model read or built) for this long, so a liveness probe restarts a hung "
        "load; set it above the load's longest step (0: never)",
    )
    rate_limit_per_key_rps: float = Field(
        default=0.0,
        ge=0,
        description="speech requests and stream sessions a second each API key may start, in this "
        "process (0: no limit; needs API keys); over it: 429 with Retry-After",
    )
    rate_limit_burst: int = Field(
        default=10, ge=1, description="requests a key may start at once above the rate"
    )
    stay_up_unready: bool = Field(
        default=False,
        description="when the engine fails to load, keep serving /health and /ready (503, with the reason) "
        "instead of exiting with status 1",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="log level")
    api_keys: SecretStr | None = Field(
        default=None,
        description="API keys clients must send (Bearer), comma- or newline-separated (env only)",
    )
    espeak_binary: str = Field(default="espeak-ng", description="espeak-ng executable")
    espeak_warm: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="espeak-ng processes kept started and waiting for their text, so a request skips "
        "espeak-ng's start-up (about 10 of its 12 ms to first audio); each is replaced after use by one "
        "for the same voice and speed. Default: one per synthesis slot (--max-concurrency), so each "
        "admitted request finds one for a voice in use, and a busy service runs at most twice as many "
        "espeak-ng. Each waiting one costs about 1.7 MB of private memory (RSS 7.4 MB, the rest shared "
        "with every espeak-ng), no CPU while it waits, and about 7 ms of CPU to start. 0: each request "
        "starts its own",
    )
    sine_pace: float = Field(
        default=0.0, ge=0, description="sine engine speed vs real time (0: as fast as possible)"
    )
    sine_first_cpu_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="sine engine: CPU milliseconds each synthesis spends before its first chunk, in a "
        "worker thread (a stand-in for a model's compute, which scripts/bench-noise.py slows by a "
        "known factor)",
    )
    model: str | None = Field(
        default=None,
        description="vibevoice model: local path, model id, or tiny-random (tiny, untrained, no weights)",
    )
    model_family: Literal["auto", "realtime", "longform"] = Field(
        default="auto",
        description="vibevoice model code: realtime (Microsoft's 0.5B streaming classes), longform (the PyPI "
        "package's), auto (realtime when its classes import, else longform)",
    )
    voices_dir: str | None = Field(
        default=None, description="vibevoice voice presets (default: <model>/voices)"
    )
    device: str = Field(
        default="auto", description="vibevoice torch device (auto: cuda if available, else cpu)"
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="vibevoice weights dtype (auto: bfloat16 on cuda, float32 otherwise)"
    )
    torch_threads: int | None = Field(
        default=None, ge=1, description="vibevoice torch CPU threads (default: 1 for tiny-random, else torch)"
    )
    cfg_scale: float = Field(default=1.5, gt=0, description="vibevoice classifier-free guidance scale")
    diffusion_steps: int = Field(default=5, ge=1, description="vibevoice diffusion steps per frame")
    attention: Literal["auto", "flash_attention_2", "sdpa"] = Field(
        default="auto",
        description="vibevoice attention kernels (auto: flash_attention_2 on cuda when flash_attn is "
        "installed, else sdpa)",
    )
    tokenizer: str | None = Field(
        default=None,
        description="vibevoice processor's text tokenizer: local folder or model id (default: the one the "
        "model's preprocessor_config.json names, a Qwen tokenizer)",
    )

    @model_validator(mode="after")
    def _model_settings_can_work(self) -> TTSSettings:
        """Refuse at start-up, naming flags and variables, what the vibevoice engine could not load."""
        if self.engine == "vibevoice" and not self.model:
            raise ValueError(
                "--engine vibevoice needs --model (env VIBEVOICE_TTS_MODEL): a local path, a model id, "
                "or tiny-random (a tiny random model, no weights)"
            )
        return self
