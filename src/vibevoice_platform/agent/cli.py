"""`vibevoice-agent`: run the voice agent service."""

from __future__ import annotations

from collections.abc import Sequence

from vibevoice_platform.agent.app import create_app
from vibevoice_platform.agent.service import AgentService
from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.config import parse_settings
from vibevoice_platform.logs import configure_logging
from vibevoice_platform.server import serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags over `VIBEVOICE_AGENT_*` and serve until SIGTERM."""
    settings = parse_settings(AgentSettings, argv, "vibevoice-agent", "Voice agent service")
    configure_logging(settings.log_level)
    app = create_app(settings)
    service: AgentService = app.state.service

    def drain() -> None:
        service.draining = True

    serve(
        app,
        host=settings.host,
        port=settings.port,
        drain_s=settings.drain_s,
        grace_s=settings.grace_s,
        on_drain=drain,
    )


if __name__ == "__main__":
    main()
