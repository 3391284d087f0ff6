"""Request and response bodies of the agent API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 4096
SESSION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


class TurnRequest(BaseModel):
    """`POST /v1/agent/turn`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT, pattern=r"\S", description="what the user said")
    voice: str | None = Field(None, min_length=1, description="TTS voice for the reply")
    session_id: str | None = Field(
        None, pattern=SESSION_ID_PATTERN, description="keeps a conversation history across turns"
    )
    system_prompt: str | None = Field(None, max_length=MAX_TEXT, description="overrides the default prompt")


class Check(BaseModel):
    """One dependency's state."""

    ok: bool
    detail: str


class AgentReadiness(BaseModel):
    """`GET /ready`."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


class AgentHealth(BaseModel):
    """`GET /health`."""

    status: Literal["ok"] = "ok"


def readiness_body(ready: bool, checks: dict[str, dict[str, Any]]) -> AgentReadiness:
    """The readiness document from the service's checks."""
    return AgentReadiness(
        status="ready" if ready else "not_ready", checks={k: Check(**v) for k, v in checks.items()}
    )
