"""The TTS cuda image on an engine with NVIDIA GPUs: its settings, its smoke and its benchmark (never
part of `ci`)."""
