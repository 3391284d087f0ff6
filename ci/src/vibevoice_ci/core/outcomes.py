"""Running independent pipeline steps together and saying plainly which passed and which failed.

`run_steps` starts every step at once in one task group and records each outcome instead of letting
the first failure cancel the rest, so one run reports every broken step. A failed exec is described
by its exit code and the tail of its output (from dagger's `ExecError`), not by a stack trace.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
import dagger

OUTPUT_TAIL_LINES = 20

Step = tuple[str, Callable[[], Awaitable[object]]]


def synced(build: Callable[[], Awaitable[dagger.Container]]) -> Callable[[], Awaitable[None]]:
    """A step that builds a container and waits for its execs (a failing exec fails the step)."""

    async def run() -> None:
        await (await build()).sync()

    return run


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step: its name, whether it passed, why not, and how long it took."""

    name: str
    passed: bool
    seconds: float
    detail: str = ""


class StepsFailed(Exception):
    """One or more steps failed; the message is the whole summary."""


def tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    """The last `lines` non-empty lines of `text`."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def describe_failure(error: Exception) -> str:
    """A short, readable reason: exit code and output tail for a failed exec, else the message."""
    if isinstance(error, dagger.ExecError):
        output = tail(error.stderr) or tail(error.stdout)
        command = " ".join(error.command)
        reason = f"`{command}` exited with {error.exit_code}"
        return f"{reason}\n{output}" if output else reason
    return str(error) or type(error).__name__


async def run_steps(steps: Sequence[Step]) -> list[StepResult]:
    """Run every step concurrently; return their results in the order given."""
    names = [name for name, _ in steps]
    if len(set(names)) != len(names):
        msg = f"step names must be unique: {names}"
        raise ValueError(msg)
    results: dict[str, StepResult] = {}

    async def record(name: str, step: Callable[[], Awaitable[object]]) -> None:
        started = time.monotonic()
        try:
            await step()
        except Exception as error:  # every failure is reported; none cancels the others
            results[name] = StepResult(name, False, time.monotonic() - started, describe_failure(error))
        else:
            results[name] = StepResult(name, True, time.monotonic() - started)

    async with anyio.create_task_group() as group:
        for name, step in steps:
            group.start_soon(record, name, step)
    return [results[name] for name in names]


def format_summary(results: Sequence[StepResult], title: str = "ci") -> str:
    """A plain-text table of the results, failures' reasons indented under them."""
    failed = sum(not result.passed for result in results)
    lines = [f"{title}: {len(results) - failed} passed, {failed} failed"]
    width = max((len(result.name) for result in results), default=0)
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        lines.append(f"  {status}  {result.name:<{width}}  {result.seconds:7.1f} s")
        lines.extend(f"        {line}" for line in result.detail.splitlines())
    return "\n".join(lines)


def raise_for_failures(results: Sequence[StepResult], title: str = "ci") -> str:
    """The summary when every step passed; StepsFailed carrying the summary otherwise."""
    summary = format_summary(results, title)
    if not all(result.passed for result in results):
        raise StepsFailed(summary)
    return summary
