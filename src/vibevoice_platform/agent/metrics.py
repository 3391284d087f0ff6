"""Prometheus metrics of the agent service, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from vibevoice_platform.agent.turn import TurnMetrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class AgentMetrics:
    """Turn TTFA, LLM TTFT, TTS TTFB, turn duration, turns by status, interruptions, store errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory, open fds

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, ["transport"], buckets=buckets, registry=self.registry)

        self.turn_ttfa = histogram(
            "vibevoice_agent_turn_ttfa_seconds", "Turn start to first audio", LATENCY_BUCKETS
        )
        self.llm_ttft = histogram(
            "vibevoice_agent_llm_ttft_seconds", "Turn start to first LLM token", LATENCY_BUCKETS
        )
        self.tts_ttfb = histogram(
            "vibevoice_agent_tts_ttfb_seconds", "First TTS request to its first audio byte", LATENCY_BUCKETS
        )
        self.turn_duration = histogram(
            "vibevoice_agent_turn_duration_seconds", "Turn start to its end", DURATION_BUCKETS
        )
        self.turns = Counter(
            "vibevoice_agent_turns", "Turns by outcome", ["transport", "status"], registry=self.registry
        )
        self.interruptions = Counter(
            "vibevoice_agent_interruptions",
            "Turns interrupted by the user",
            ["transport"],
            registry=self.registry,
        )
        self.session_store_errors = Counter(
            "vibevoice_agent_session_store_errors",
            "Calls to the session store that failed or timed out (read, record, rate_limit); the turn "
            "went on without its history, or the rate was counted in the pod",
            ["operation"],
            registry=self.registry,
        )
        self.active_turns = Gauge("vibevoice_agent_active_turns", "Turns in progress", registry=self.registry)

    def observe(self, transport: str, status: str, metrics: TurnMetrics | None) -> None:
        """Record a finished turn."""
        self.turns.labels(transport, status).inc()
        if status == "interrupted":
            self.interruptions.labels(transport).inc()
        if metrics is None:
            return
        for histogram, value in (
            (self.turn_ttfa, metrics.turn_ttfa_ms),
            (self.llm_ttft, metrics.llm_ttft_ms),
            (self.tts_ttfb, metrics.tts_ttfb_ms),
            (self.turn_duration, metrics.turn_e2e_ms),
        ):
            if value is not None:
                histogram.labels(transport).observe(value / 1000)
