"""Which repository files reach each step, from the recording: the width of a step's inputs.

Each recorded exec says which repository files reached it (`Exec.reads`: what was put into its
container, what that stands on, the services bound to it) and carries the key the engine would cache
it by, which changes only when the content of one of those files does. So "step X does not change
when file Y changes" can be stated both ways: Y is not among X's reads, and a recording with Y edited
gives X the same key (`record(Settings(edits=...))`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import AIR_GAPPED
from recording_engine.harness import ROOT, record
from recording_engine.recording import Recording
from vibevoice_ci.core import inputs

CHART = "infra/k8s/charts/vibevoice/"


def keys(recording: Recording, path: str) -> set[str]:
    return {run.key for run in recording.calls[path].execs}


def test_the_chart_lint_reads_the_chart_alone(recording: Recording) -> None:
    reads = {path for run in recording.calls["chart lint"].execs for path in run.reads}
    assert reads
    assert {path for path in reads if not path.startswith(CHART)} == set()


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """The chart's lint recorded with the README edited, and with the chart's values edited."""
    edits = {
        "README.md": "# another README\n",
        f"{CHART}values.yaml": (ROOT / CHART / "values.yaml").read_text(encoding="utf-8") + "\n# an edit\n",
    }
    return {
        name: record(
            replace(AIR_GAPPED, edits={name: text}),
            only="chart lint".__eq__,
            log_dir=tmp_path_factory.mktemp(name.replace("/", "-")),
        )
        for name, text in edits.items()
    }


def test_a_readme_edit_leaves_the_chart_lint_as_it_was(
    recording: Recording, edited: dict[str, Recording]
) -> None:
    assert keys(edited["README.md"], "chart lint") == keys(recording, "chart lint")


def test_an_edit_of_the_charts_values_runs_the_chart_lint_again(
    recording: Recording, edited: dict[str, Recording]
) -> None:
    assert not keys(edited[f"{CHART}values.yaml"], "chart lint") & keys(recording, "chart lint")


# The steps of `ci` that take the repository, and one edit of each kind the issue names: the README, the
# chart, and a module of the product the chart's tests do not import.
STEPS = frozenset(
    {
        "lint",
        "test",
        "suite typecheck",
        "suite pipeline_tests",
        "suite repository_tests",
        "chart lint",
        "chart tests",
    }
)
PRODUCT_MODULE = "src/vibevoice_platform/agent/service.py"
EDITS = {
    "README.md": "# another README\n",
    f"{CHART}values.yaml": (ROOT / CHART / "values.yaml").read_text(encoding="utf-8") + "\n# an edit\n",
    PRODUCT_MODULE: (ROOT / PRODUCT_MODULE).read_text(encoding="utf-8") + "\n# an edit\n",
}


@pytest.fixture(scope="module")
def steps_edited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """The steps recorded as the repository is (""), and with each of EDITS made."""
    return {
        name: record(
            replace(AIR_GAPPED, edits={name: EDITS[name]} if name else {}),
            only=STEPS.__contains__,
            log_dir=tmp_path_factory.mktemp(name.replace("/", "-") or "unedited"),
        )
        for name in ("", *EDITS)
    }


def run_again(steps_edited: dict[str, Recording], edit: str) -> set[str]:
    """The steps of which an exec has a key it did not have before `edit`: what the engine runs again."""
    before, after = steps_edited[""], steps_edited[edit]
    assert set(after.calls) >= STEPS
    return {path for path in STEPS if keys(after, path) - keys(before, path)}


def test_a_readme_edit_runs_again_only_what_reads_the_readme(steps_edited: dict[str, Recording]) -> None:
    # The product's metadata reads the README: the images' builds and the repository's tests install
    # the product; the pipeline's tests record every step, so they read every file a step reads.
    assert run_again(steps_edited, "README.md") == {"test", "suite repository_tests", "suite pipeline_tests"}


def test_a_chart_edit_runs_again_the_chart_steps_only(steps_edited: dict[str, Recording]) -> None:
    assert run_again(steps_edited, f"{CHART}values.yaml") == {
        "chart lint",
        "chart tests",
        "suite pipeline_tests",  # they record `chart lint`, keyed by the chart's files
    }


def test_a_product_edit_leaves_the_chart_steps_as_they_were(steps_edited: dict[str, Recording]) -> None:
    again = run_again(steps_edited, PRODUCT_MODULE)
    assert {"test", "lint", "suite typecheck"} <= again
    assert not again & {"chart lint", "chart tests"}


# Where the packages the tests import are: the tests' own, and the product's.
PACKAGES = {"tests": ROOT, "vibevoice_platform": ROOT / "src"}


def module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run on import: not a function's (an import there is made when it is called)."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.Try):
            yield from module_level([*node.body, *node.orelse])


def imported_modules(files: list[Path]) -> set[str]:
    """The product's modules `files` import, and what those import (through the tests' own modules
    too), as repository paths."""
    found: set[str] = set()
    pending = list(files)
    while pending:
        for node in module_level(ast.parse(pending.pop().read_text(encoding="utf-8")).body):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                parts = name.split(".")
                if parts[0] not in PACKAGES:
                    continue
                for depth in range(1, len(parts) + 1):
                    base = PACKAGES[parts[0]] / Path(*parts[:depth])
                    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
                    relative = path.relative_to(ROOT).as_posix()
                    if path.is_file() and relative not in found:
                        found.add(relative)
                        pending.append(path)
    return {path for path in found if path.startswith("src/")}


def test_the_chart_tests_are_given_every_module_of_the_product_they_import() -> None:
    imported = imported_modules([*(ROOT / "tests" / "chart").rglob("*.py"), ROOT / "tests" / "conftest.py"])
    assert "src/vibevoice_platform/tts/settings.py" in imported
    assert sorted(imported - set(inputs.CHART_CONTRACT)) == []
