"""What the container checks run inside the images the engine built, as plain data.

The local suite (tests/container) checks the images `make images` built with docker; the pipeline
checks the same promises on the images the engine built: the runtime user is not root, nothing outside
/tmp is writable by it (what `--read-only --tmpfs /tmp` enforces), the image turns healthy through its
own HEALTHCHECK, and no compiler, pip cache or build leftover is in it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

RUNTIME_USER = "10001:10001"
RUNTIME_UID = "10001"
# What a runtime image must not carry: compilers and build tools, pip's cache, the build's leftovers.
FORBIDDEN_COMMANDS = ("gcc", "cc", "c++", "g++", "clang", "make", "ld", "as", "cmake", "rustc")
FORBIDDEN_PATHS = ("/wheels", "/dist", "/requirements", "/src", "/run/secrets/pip_ca")
# /tmp is where the services write. Debian's other sticky, world-writable temp dirs (/var/tmp,
# /run/lock) are read-only under `--read-only --tmpfs /tmp` too and the services never use them, but a
# Dagger container cannot mount its root read-only, so here they are allowed by name (found running
# `dagger call ci` on an engine: the real python:3.12-slim has both). A symbolic link is judged at its
# target, not by its own name (Debian's /var/lock points at /run/lock: found on the engine too).
WRITABLE = ("/tmp", "/var/tmp", "/run/lock")  # noqa: S108
HEALTHY_ATTEMPTS = 120  # one a second: the images' HEALTHCHECK start period is 60 s


def leftovers() -> list[str]:
    """Prints every forbidden command, path, pip cache or build package found; prints nothing if clean."""
    script = (
        f"for c in {' '.join(FORBIDDEN_COMMANDS)}; do command -v $c; done; "
        f"for p in {' '.join(FORBIDDEN_PATHS)}; do [ -e $p ] && echo $p; done; "
        "find / -xdev -type d -path '*/.cache/pip' 2>/dev/null; "
        "dpkg-query -W -f '${db:Status-Status} ${Package}\\n' build-essential gcc cpp binutils 2>/dev/null"
        " | grep '^installed'; true"
    )
    return ["sh", "-c", script]


def writable_outside(allowed: Sequence[str] = WRITABLE) -> list[str]:
    """Prints every path on the root filesystem the current user may write, outside `allowed`."""
    pruned = " -o ".join(f"-path {shlex.quote(path)}" for path in allowed)
    script = f"find / -xdev \\( {pruned} \\) -prune -o ! -type l -writable -print 2>/dev/null; true"
    return ["sh", "-c", script]


def healthy(
    entrypoint: Sequence[str], healthcheck: Sequence[str], attempts: int = HEALTHY_ATTEMPTS
) -> list[str]:
    """Starts the image's entrypoint, then runs its HEALTHCHECK command once a second until it passes
    (exit 0) or `attempts` have failed or the service has exited (exit 1); the service is stopped."""
    if not entrypoint or not healthcheck:
        msg = "the image declares no entrypoint or no HEALTHCHECK"
        raise ValueError(msg)
    script = (
        f"{shlex.join(entrypoint)} & server=$!; "
        f"for attempt in $(seq {attempts}); do "
        f"if {shlex.join(healthcheck)} >/dev/null 2>&1; then "
        "echo healthy after $attempt; kill $server; exit 0; fi; "
        "kill -0 $server 2>/dev/null || { echo the service exited >&2; exit 1; }; "
        "sleep 1; done; echo never healthy >&2; kill $server; exit 1"
    )
    return ["sh", "-c", script]


def healthcheck_command(args: Sequence[str], *, shell: bool) -> list[str]:
    """The command an image's HEALTHCHECK runs (`CMD-SHELL` runs its one string through sh)."""
    return ["sh", "-c", " ".join(args)] if shell else list(args)
