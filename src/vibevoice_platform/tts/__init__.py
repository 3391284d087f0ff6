"""The streaming text-to-speech service."""
