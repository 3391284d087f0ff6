"""Running steps together and summarizing them (vibevoice_ci.outcomes)."""

# Building a real ExecError needs the SDK's error value class, which lives in a private module.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import anyio
import dagger
import pytest
from dagger._exceptions import QueryErrorValue
from gql import gql
from vibevoice_ci.core.outcomes import (
    StepResult,
    StepsFailed,
    describe_failure,
    format_summary,
    raise_for_failures,
    run_steps,
    tail,
)

pytestmark = pytest.mark.anyio


def exec_error(exit_code: int, stdout: str, stderr: str) -> dagger.ExecError:
    """An ExecError as the SDK raises it for a failed exec (built from the engine's error shape)."""
    value = QueryErrorValue(
        message=f"process exited with {exit_code}",
        extensions={
            "_type": "EXEC_ERROR",
            "cmd": ["ruff", "check", "src"],
            "exitCode": exit_code,
            "stdout": stdout,
            "stderr": stderr,
        },
    )
    error = dagger.QueryError([value], gql("query { container { id } }"))
    assert isinstance(error, dagger.ExecError)
    return error


async def test_steps_run_concurrently() -> None:
    # Each step waits for the other: run one after the other, they would time out.
    first, second = anyio.Event(), anyio.Event()

    async def one() -> None:
        first.set()
        await second.wait()

    async def two() -> None:
        second.set()
        await first.wait()

    with anyio.fail_after(5):
        results = await run_steps([("one", one), ("two", two)])
    assert [(result.name, result.passed) for result in results] == [("one", True), ("two", True)]


async def test_a_failure_is_recorded_and_does_not_cancel_the_others() -> None:
    finished: list[str] = []

    async def broken() -> None:
        raise RuntimeError("the build broke")

    async def slow() -> None:
        await anyio.sleep(0.05)
        finished.append("slow")

    results = await run_steps([("broken", broken), ("slow", slow)])
    assert finished == ["slow"]
    assert results[0] == StepResult("broken", False, results[0].seconds, "the build broke")
    assert results[1].passed


async def test_results_keep_the_order_given_not_the_order_finished() -> None:
    async def late() -> None:
        await anyio.sleep(0.05)

    async def early() -> None:
        return None

    results = await run_steps([("late", late), ("early", early)])
    assert [result.name for result in results] == ["late", "early"]


async def test_step_names_must_be_unique() -> None:
    async def step() -> None:
        return None

    with pytest.raises(ValueError, match="unique"):
        await run_steps([("lint", step), ("lint", step)])


def test_a_failed_exec_is_described_by_its_command_exit_code_and_output_tail() -> None:
    stderr = "\n".join(f"line {number}" for number in range(1, 31)) + "\n\n"
    described = describe_failure(exec_error(1, "", stderr))
    assert described.splitlines()[0] == "`ruff check src` exited with 1"
    assert described.splitlines()[1:] == [f"line {number}" for number in range(11, 31)]


def test_stdout_is_used_when_stderr_is_empty() -> None:
    assert describe_failure(exec_error(2, "would reformat src/x.py\n", "")).endswith(
        "would reformat src/x.py"
    )


def test_other_errors_are_described_by_their_message_or_type() -> None:
    assert describe_failure(ValueError("bad platform")) == "bad platform"
    assert describe_failure(TimeoutError()) == "TimeoutError"


def test_tail_drops_blank_lines() -> None:
    assert tail("a\n\n  \nb\nc\n", lines=2) == "b\nc"


RESULTS = [
    StepResult("lint", True, 3.21),
    StepResult("test tts", False, 61.0, "`pytest` exited with 1\nFAILED tests/unit/test_x.py"),
    StepResult("images", True, 120.04),
]


def test_summary_lists_every_step_and_indents_the_reasons() -> None:
    assert format_summary(RESULTS) == "\n".join(
        [
            "ci: 2 passed, 1 failed",
            "  PASS  lint          3.2 s",
            "  FAIL  test tts     61.0 s",
            "        `pytest` exited with 1",
            "        FAILED tests/unit/test_x.py",
            "  PASS  images      120.0 s",
        ]
    )


def test_all_passed_returns_the_summary() -> None:
    passed = [result for result in RESULTS if result.passed]
    assert raise_for_failures(passed).startswith("ci: 2 passed, 0 failed")


def test_any_failure_raises_with_the_whole_summary() -> None:
    with pytest.raises(StepsFailed) as raised:
        raise_for_failures(RESULTS)
    assert str(raised.value) == format_summary(RESULTS)
