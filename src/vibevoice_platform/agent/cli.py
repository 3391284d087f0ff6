"""`vibevoice-agent`: run the voice agent service."""

from __future__ import annotations

from collections.abc import Sequence

from vibevoice_platform.agent.app import create_app
from vibevoice_platform.agent.settings import AgentSettings
from vibevoice_platform.config import parse_settings
from vibevoice_platform.server import run_service

PROG = "vibevoice-agent"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags over `VIBEVOICE_AGENT_*` and serve until SIGTERM."""
    run_service(parse_settings(AgentSettings, argv, PROG, "Voice agent service"), create_app, PROG)


if __name__ == "__main__":
    main()
