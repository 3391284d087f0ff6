"""Agent service settings: `VIBEVOICE_AGENT_*` environment variables, overridden by flags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from vibevoice_platform.config import http_url, redis_url
from vibevoice_platform.transport import TransportLimits


class AgentSettings(TransportLimits):
    """Everything `vibevoice-agent` can be told (the API key only through the environment; the
    transport limits, see transport.py)."""

    model_config = SettingsConfigDict(env_prefix="VIBEVOICE_AGENT_", extra="ignore")

    llm: Literal["scripted", "openai"] = Field(default="scripted", description="LLM backend")
    tts_url: str = Field(
        default="http://127.0.0.1:8000", description="base URL of the TTS service (http:// or https://)"
    )
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8080, ge=0, le=65535, description="port to listen on")
    voice: str = Field(default="alloy", description="default voice")
    system_prompt: str = Field(
        default="You are a helpful voice assistant. Answer in a few short spoken sentences.",
        description="default system prompt",
    )
    scripted_token_delay_ms: float = Field(default=0.0, ge=0, description="scripted LLM: delay between words")
    openai_base_url: str = Field(
        default="https://api.openai.com/v1", description="OpenAI-compatible API base URL"
    )
    openai_model: str = Field(default="gpt-4o-mini", description="chat model for the openai backend")
    openai_api_key: SecretStr | None = Field(default=None, description="API key (environment only)")
    llm_timeout_s: float = Field(default=30.0, gt=0, description="longest wait for the LLM's next token")
    tts_timeout_s: float = Field(default=30.0, gt=0, description="longest wait for the TTS service")
    max_turns: int = Field(default=64, ge=1, description="turns in progress at once before 429")
    max_sessions: int = Field(
        default=1000, ge=1, description="conversation histories kept in memory (without a session store)"
    )
    session_store_url: str | None = Field(
        default=None,
        description="Redis the agent replicas share histories and rate limits in (redis://HOST:PORT/DB, "
        "rediss://, unix://); unset: each process keeps its own, in memory. A URL holding a password "
        "goes in the environment, never in a flag",
    )
    session_store_password: SecretStr | None = Field(
        default=None, description="password of the session store, if its URL has none (env only)"
    )
    session_store_timeout_s: float = Field(
        default=0.5, gt=0, description="longest wait for the session store; past it a turn goes on without"
    )
    session_ttl_s: int = Field(
        default=3600, ge=1, description="a conversation with no turn for this long is forgotten"
    )
    ws_idle_s: float = Field(
        default=60.0,
        gt=0,
        description="WebSocket sessions with no message and no response this long are closed",
    )
    ws_max_turns_per_s: int = Field(
        default=5, ge=1, description="user.text turns a second per WebSocket session; faster closes with 1008"
    )
    history_messages: int = Field(default=20, ge=0, description="past messages sent to the LLM per turn")
    drain_s: float = Field(
        default=0.0, ge=0, description="after SIGTERM, seconds /ready answers 503 before stopping"
    )
    grace_s: int = Field(default=30, ge=0, description="after SIGTERM, seconds in-flight turns get to finish")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="log level")
    api_keys: SecretStr | None = Field(
        default=None,
        description="API keys clients must send (Bearer), comma- or newline-separated (env only)",
    )
    tts_api_key: SecretStr | None = Field(default=None, description="API key sent to the TTS (env only)")
    rate_limit_per_minute: int = Field(
        default=0, ge=0, description="turns per minute each API key may start (0: no limit)"
    )
    rate_limit_burst: int = Field(
        default=10, ge=1, description="turns a key may start at once above the rate"
    )

    @field_validator("tts_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """Refused at start: a URL without a scheme would fail every turn (and /ready's TTS check)."""
        return http_url(value)

    @field_validator("session_store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        """Refused at start: a store the agent cannot speak to would leave every turn without history.
        Empty means unset (as compose passes an unset variable)."""
        return redis_url(value) if value else None
