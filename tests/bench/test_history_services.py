"""The run-to-run spread against real services: nights on a runner whose speed moves, then the gate.

The sine engine stands in for the machine: at pace p its 100 ms chunks take 100 / p ms, so pace 1 is
a fast night (first audio after about 100 ms), pace 0.714 the same build on a machine 40 % slower
(140 ms) and pace 0.25 a real 4x regression (400 ms). Six nights drift between the speeds in steps of
at most 14 %, each compared with the night before as the nightly workflow does, building history.json
from the runs that passed. Delays of this size keep the test about the mechanism: the milliseconds a
busy neighbour adds on a shared 2-core machine stay inside the 30 % the gate allows a night. The
policy gates the medians only: a p95 of a few dozen requests moves with the neighbours' load more than
with the simulated speed; test_history.py covers every default check with synthetic samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.processes import Service, free_port, running
from vibevoice_platform.bench.cli import EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.compare import Comparison, Verdict
from vibevoice_platform.bench.history import load_history

pytestmark = [pytest.mark.integration, pytest.mark.serial]  # it measures: alone under xdist

# sine paces: first audio after 100, 114, 128, 140 and 400 ms
FAST, MILD, MEDIUM, SLOWER, REGRESSED = 1.0, 0.877, 0.781, 0.714, 0.25
NIGHTS = (FAST, MILD, MEDIUM, SLOWER, MEDIUM, MILD)
TEXTS = ("Hi.", "Ok.", "Yes.", "Sure!")  # two or three 100 ms chunks each
# The band is wider than the default (k = 3): under `dagger call ci`, every suite at once on 2 cores,
# the 40 % slower run came out at 168 ms against a limit of 166 ms. The test is about the mechanism
# (the history lets a slower machine pass, a 4x regression still fails); a 4x TTFA is far past k = 5.
POLICY = """
[history]
k = 5.0

[[checks]]
metric = "ttfa_ms"
statistic = "p50"
floor = 3.0

[[checks]]
metric = "e2e_latency_ms"
statistic = "p50"
floor = 5.0
"""


@pytest.fixture(scope="module")
def machines() -> Iterator[dict[float, Service]]:
    """One sine TTS per machine speed."""
    with ExitStack() as stack:
        services: dict[float, Service] = {}
        for pace in (FAST, MILD, MEDIUM, SLOWER, REGRESSED):
            port = free_port()
            command = ["vibevoice-tts", "--engine", "sine", "--sine-pace", f"{pace:g}", "--port", str(port)]
            services[pace] = stack.enter_context(running([*command, "--max-concurrency", "16"], port=port))
        yield services


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def measure(service: Service, corpus: Path, out: Path, requests: int = 45) -> Path:
    """One run of the scenario; returns its results.json."""
    argv = ["run", "--target", "tts", "--url", service.url, "--requests", str(requests), "--concurrency", "3"]
    assert main([*argv, "--corpus-file", str(corpus), "--out", str(out)]) == EXIT_OK
    return out / "results.json"


def gate(
    current: Path, out: Path, *, baseline: Path, history: Path | None, policy: Path
) -> tuple[int, Comparison]:
    argv = ["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)]
    argv += ["--policy", str(policy)]
    code = main([*argv, *(["--history", str(history)] if history else [])])
    return code, Comparison.model_validate_json((out / "comparison.json").read_text())


def test_a_slower_machine_passes_with_history_and_a_4x_slower_ttfa_still_fails(
    machines: dict[float, Service], corpus: Path, policy: Path, tmp_path: Path
) -> None:
    # Six nights, each gated against the last good one; all pass (a step of +20 % warns).
    last = tmp_path / "none"
    for night, pace in enumerate(NIGHTS):
        out = tmp_path / f"night-{night}"
        current = measure(machines[pace], corpus, out / "run")
        code, comparison = gate(
            current, out, baseline=last / "baseline.json", history=last / "history.json", policy=policy
        )
        assert code == EXIT_OK, [c.reason for c in comparison.checks]
        last = out
    history = last / "history.json"
    assert len(load_history(history).runs) == len(NIGHTS)

    # Two runs of one build, back to back, the second on a machine 40 % slower.
    fast = measure(machines[FAST], corpus, tmp_path / "fast")
    slower = measure(machines[SLOWER], corpus, tmp_path / "slower")
    # (Without the history such a shift fails when the machine is quiet enough for both runs to be
    # consistent; test_history.py shows it with fixed samples: here the neighbours' load decides.)
    code, judged = gate(slower, tmp_path / "judged", baseline=fast, history=history, policy=policy)
    assert code == EXIT_OK, [c.reason for c in judged.checks]
    ttfa = next(c for c in judged.checks if (c.metric, c.statistic) == ("ttfa_ms", "p50"))
    assert ttfa.verdict is not Verdict.FAIL
    assert ttfa.relative is not None
    assert ttfa.relative < 1.0  # well short of the 4x regression below
    assert ttfa.history is not None
    assert ttfa.history.within
    if ttfa.relative > 0.30:  # past the fail threshold on its own: the history is why it passed
        assert "machine noise" in ttfa.reason
    assert "run-to-run spread of 6 past runs" in (tmp_path / "judged" / "summary.md").read_text()

    # A 4x slower time to first audio is beyond any spread the nights showed.
    regressed = measure(machines[REGRESSED], corpus, tmp_path / "regressed", requests=30)
    code, slow = gate(regressed, tmp_path / "slow", baseline=fast, history=history, policy=policy)
    assert code == EXIT_REGRESSION
    ttfa = next(c for c in slow.checks if (c.metric, c.statistic) == ("ttfa_ms", "p50"))
    assert ttfa.verdict is Verdict.FAIL
    assert ttfa.history is not None
    assert not ttfa.history.within
    assert not (tmp_path / "slow" / "history.json").exists()
