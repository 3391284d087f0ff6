"""VibeVoice realtime voice platform: a streaming TTS service and a voice agent service."""

__version__ = "0.1.0"
