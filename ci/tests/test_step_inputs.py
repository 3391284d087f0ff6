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
