"""Which repository files reach each step, from the recording: the width of a step's inputs.

Each recorded exec says which repository files reached it (`Exec.reads`: what was put into its
container, what that stands on, the services bound to it) and carries the key the engine would cache
it by, which changes only when the content of one of those files does. So "step X does not change
when file Y changes" can be stated both ways: Y is not among X's reads, and a recording with Y edited
gives X the same key (`record(Settings(edits=...))`).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import AIR_GAPPED
from recording_engine.harness import ROOT, record
from recording_engine.recording import Recording

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
# chart, and a module of the product.
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
    # The product's metadata reads the README: the images' builds, the repository's tests and the chart
    # tests (the helm test script against the real services) install the product; the pipeline's tests
    # record every step, so they read every file a step reads.
    assert run_again(steps_edited, "README.md") == {
        "test",
        "chart tests",
        "suite repository_tests",
        "suite pipeline_tests",
    }


def test_a_chart_edit_runs_again_the_chart_steps_only(steps_edited: dict[str, Recording]) -> None:
    assert run_again(steps_edited, f"{CHART}values.yaml") == {
        "chart lint",
        "chart tests",
        "suite pipeline_tests",  # they record `chart lint`, keyed by the chart's files
    }


def test_a_product_edit_leaves_the_chart_lint_as_it_was(steps_edited: dict[str, Recording]) -> None:
    # The chart tests run the chart's helm test script against the real services: a product edit
    # runs them again, never the chart's lint.
    again = run_again(steps_edited, PRODUCT_MODULE)
    assert {"test", "lint", "suite typecheck", "chart tests"} <= again
    assert "chart lint" not in again
