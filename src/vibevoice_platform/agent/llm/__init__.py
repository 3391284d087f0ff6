"""LLM backends: a streaming chat interface, a scripted backend and an OpenAI-compatible one."""

from __future__ import annotations

from vibevoice_platform.agent.llm.base import LLM, LLMError, Message
from vibevoice_platform.agent.settings import AgentSettings

__all__ = ["LLM", "LLMError", "Message", "build_llm"]


def build_llm(settings: AgentSettings) -> LLM:
    """The backend named by the settings."""
    match settings.llm:
        case "scripted":
            from vibevoice_platform.agent.llm.scripted import ScriptedLLM

            return ScriptedLLM(token_delay_s=settings.scripted_token_delay_ms / 1000)
        case "openai":
            from vibevoice_platform.agent.llm.openai import OpenAIChatLLM

            return OpenAIChatLLM(
                base_url=settings.openai_base_url,
                model=settings.openai_model,
                api_key=settings.openai_api_key,
                timeout_s=settings.llm_timeout_s,
            )
