"""`python -m vibevoice_ci`: the pipeline's pure logic on the command line, without an engine.

Each subcommand is one `Command` in `COMMANDS`: a name, a help line, a function that adds its
arguments and a function that runs it and returns the exit code. Exit codes: 0 success, 1 a policy
violation (for gates), 2 bad input (argparse's own usage errors are 2 as well).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vibevoice_ci.core.tags import image_references
from vibevoice_ci.images.catalog import SERVICES
from vibevoice_ci.supply_chain import gate_cli

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    """One subcommand of `python -m vibevoice_ci`."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _configure_tags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ref", required=True, help="git ref, e.g. refs/tags/v1.2.3 or refs/heads/main")
    parser.add_argument("--sha", required=True, help="the commit id the images are built from")
    parser.add_argument("--registry", default="ghcr.io", help="registry host (default: ghcr.io)")
    parser.add_argument("--repository", required=True, help="repository path, e.g. Owner/Project")
    parser.add_argument(
        "--service",
        action="append",
        choices=sorted(SERVICES),
        help="only this service (repeatable; default: every service)",
    )


def _run_tags(args: argparse.Namespace) -> int:
    services: list[str] = args.service or list(SERVICES)
    for service in services:
        for reference in image_references(args.registry, args.repository, service, args.ref, args.sha):
            print(reference)
    return EXIT_OK


COMMANDS: tuple[Command, ...] = (
    Command(
        "tags",
        "print the image references a ref and commit are published under",
        _configure_tags,
        _run_tags,
    ),
    Command(
        "gate",
        "a security gate on a pip-audit or Trivy JSON report",
        gate_cli.configure,
        gate_cli.run,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand in `COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="python -m vibevoice_ci",
        description="The VibeVoice pipeline's pure logic, for local use and workflows.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = subcommands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the subcommand, return its exit code; bad values are reported on stderr."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
