"""Decoding what the TTS streams, with FFmpeg's decoders (PyAV): an encoder other than the service's own
for mp3, opus and flac (libsndfile there), so a stream only one library could read would fail here."""

from __future__ import annotations

import io

import av
import numpy as np

from vibevoice_platform.audio import SAMPLE_RATE


def decode_to_pcm16(data: bytes) -> tuple[str, bytes]:
    """The codec's name and the audio as PCM16 24 kHz mono, however it was encoded."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pieces: list[bytes] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        for frame in container.decode(stream):
            pieces.extend(np.asarray(out.to_ndarray()).tobytes() for out in resampler.resample(frame))
    pieces.extend(np.asarray(out.to_ndarray()).tobytes() for out in resampler.resample(None))
    return codec, b"".join(pieces)
