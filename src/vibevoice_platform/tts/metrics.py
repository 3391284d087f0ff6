"""Prometheus metrics of the TTS service, on a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RTF_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class TTSMetrics:
    """Time to first audio, duration, real-time factor, requests by status, streams and queue."""

    def __init__(self, engine: str) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory, open fds
        labels = ["engine", "endpoint"]
        self.ttfa = Histogram(
            "vibevoice_tts_ttfa_seconds",
            "Time from request to the first audio chunk",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "vibevoice_tts_request_duration_seconds",
            "Time from request to the last audio chunk",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.rtf = Histogram(
            "vibevoice_tts_real_time_factor",
            "Synthesis time divided by audio duration (below 1 is faster than real time)",
            labels,
            buckets=RTF_BUCKETS,
            registry=self.registry,
        )
        self.audio_seconds = Counter(
            "vibevoice_tts_audio_seconds", "Audio produced", labels, registry=self.registry
        )
        self.requests = Counter(
            "vibevoice_tts_requests", "Requests by outcome", [*labels, "status"], registry=self.registry
        )
        self.active_streams = Gauge(
            "vibevoice_tts_active_streams", "Syntheses in progress", registry=self.registry
        )
        self.queue_depth = Gauge(
            "vibevoice_tts_queue_depth", "Requests waiting for a synthesis slot", registry=self.registry
        )
        self.engine = engine

    def admission_changed(self, active: int, waiting: int) -> None:
        """Admission callback: mirror slots in use and queue length."""
        self.active_streams.set(active)
        self.queue_depth.set(waiting)

    def observe(
        self, endpoint: str, status: str, ttfa_s: float | None, duration_s: float, audio_s: float
    ) -> None:
        """Record one finished (or failed) synthesis."""
        self.requests.labels(self.engine, endpoint, status).inc()
        if ttfa_s is None:
            return
        self.ttfa.labels(self.engine, endpoint).observe(ttfa_s)
        self.duration.labels(self.engine, endpoint).observe(duration_s)
        self.audio_seconds.labels(self.engine, endpoint).inc(audio_s)
        if audio_s > 0:
            self.rtf.labels(self.engine, endpoint).observe(duration_s / audio_s)
