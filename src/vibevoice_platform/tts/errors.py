"""The TTS service's exceptions, one tree, each mapped once to an HTTP status and an OpenAI error body.

    TTSError                     500 server_error
    ├── InvalidRequestError      400 invalid_request_error
    │   ├── UnknownVoiceError    400 (code voice_not_found)
    │   ├── UnknownModelError    400 (code model_not_found)
    │   └── UnsupportedError     400 (code unsupported_value)
    ├── OverloadedError          429 rate_limit_error (with Retry-After)
    ├── NotReadyError            503 service_unavailable
    └── EngineError              500 server_error (the engine failed: espeak-ng exited, CUDA error, ...)

Engine code raises these; library and subprocess errors are translated at the engine boundary.
"""

from __future__ import annotations


class TTSError(Exception):
    """Base of every error the TTS service reports to a client."""

    status_code = 500
    error_type = "server_error"
    code = "internal_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequestError(TTSError):
    """The request is well-formed JSON but asks for something the service cannot do."""

    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_value"


class UnknownVoiceError(InvalidRequestError):
    """The voice is neither an engine voice nor an OpenAI voice name."""

    code = "voice_not_found"


class UnknownModelError(InvalidRequestError):
    """The model is not one this service serves."""

    code = "model_not_found"


class UnsupportedError(InvalidRequestError):
    """A valid value that this engine does not support (e.g. speed on an engine without it)."""

    code = "unsupported_value"


class OverloadedError(TTSError):
    """Every synthesis slot and every queue place is taken."""

    status_code = 429
    error_type = "rate_limit_error"
    code = "server_overloaded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReadyError(TTSError):
    """The engine is still loading, failed to load, or the service is draining."""

    status_code = 503
    error_type = "service_unavailable"
    code = "not_ready"


class EngineError(TTSError):
    """Synthesis failed inside the engine."""

    code = "engine_failure"
