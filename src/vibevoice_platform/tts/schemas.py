"""Request and response bodies of the TTS API, mirroring OpenAI's audio API in constrained types."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_INPUT_CHARS = 4096
ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("input must contain text, not only whitespace")
    return text


SpeechText = Annotated[str, Field(min_length=1, max_length=MAX_INPUT_CHARS), AfterValidator(_not_blank)]


class SpeechRequest(BaseModel):
    """`POST /v1/audio/speech`, as OpenAI's `audio.speech.create` sends it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, description="tts-1, tts-1-hd, gpt-4o-mini-tts or an engine model")
    input: SpeechText = Field(description="the text to speak, 1 to 4096 characters, not blank")
    voice: str = Field("alloy", min_length=1, description="an OpenAI voice name or an engine voice")
    response_format: ResponseFormat = Field(
        "mp3",
        description="mp3 (OpenAI's default), opus (Ogg), aac (ADTS), flac, wav (streaming header) or pcm "
        "(s16le, 24 kHz mono); every format streams",
    )
    speed: float = Field(1.0, ge=0.25, le=4.0, description="speaking rate, 0.25 to 4.0")
    stream_format: Literal["audio", "sse"] = Field("audio", description="raw audio or server-sent events")
    stream: bool = Field(
        True,
        description="not in OpenAI's API: false sends the whole file once it is made, with its length "
        "and every header complete (FLAC's total samples, WAV's sizes), for readers such as libsndfile "
        "or Python's wave that cannot take a stream's 'length unknown'; audio only, not with sse",
    )
    instructions: str | None = Field(
        None, max_length=MAX_INPUT_CHARS, description="accepted for OpenAI compatibility; ignored"
    )

    @model_validator(mode="after")
    def _whole_file_is_audio(self) -> SpeechRequest:
        if not self.stream and self.stream_format == "sse":
            raise ValueError("stream false sends a whole audio file, so not with stream_format sse")
        return self


class ModelCard(BaseModel):
    """One entry of `GET /v1/models`."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "vibevoice"


class ModelList(BaseModel):
    """`GET /v1/models`."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class VoiceList(BaseModel):
    """`GET /v1/audio/voices`."""

    voices: list[str]
    default: str


class Readiness(BaseModel):
    """`GET /ready`."""

    status: Literal["ready", "loading", "failed", "draining"]
    engine: str
    model: str | None = None
    sample_rate: int | None = None
    voices: list[str] = Field(default_factory=list)
    detail: str | None = None


class Health(BaseModel):
    """`GET /health`."""

    status: Literal["ok", "failed", "stalled"]
    detail: str | None = None
