"""The voice agent service: LLM replies streamed sentence by sentence into speech."""
