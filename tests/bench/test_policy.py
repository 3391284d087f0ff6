"""Policy files over the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibevoice_platform.bench.policy import DEFAULT_CHECKS, Method, Policy, PolicyError, load_policy


def test_no_file_gives_the_defaults() -> None:
    policy = load_policy(None)
    assert policy == Policy()
    assert [c.label for c in policy.checks] == [
        "ttfa_ms p50", "ttfa_ms p95", "e2e_latency_ms p50", "e2e_latency_ms p95", "cpu_ms_per_request p50",
    ]  # fmt: skip
    assert all(c.floor > 0 and c.warn < c.fail for c in DEFAULT_CHECKS)
    assert (policy.error_rate.warn, policy.error_rate.fail) == (0.0, 0.01)


def test_a_toml_file_overrides_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'method = "mann-whitney"\nalpha = 0.05\n[error_rate]\nfail = 0.1\n'
        '[[checks]]\nmetric = "ttfa_ms"\nstatistic = "p99"\nwarn = 0.5\nfail = 1.0\nfloor = 20\n',
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.method is Method.MANN_WHITNEY
    assert policy.alpha == 0.05
    assert (policy.error_rate.warn, policy.error_rate.fail) == (0.0, 0.1)
    assert [(c.label, c.warn, c.fail, c.floor, c.worse) for c in policy.checks] == [
        ("ttfa_ms p99", 0.5, 1.0, 20.0, "higher")
    ]


def test_a_json_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"checks": [{"metric": "rtf", "statistic": "avg", "floor": 0.02}]}', encoding="utf-8")
    assert load_policy(path).checks[0].label == "rtf avg"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alpha = ", "not valid TOML"),
        ("[[checks]]\nmetric = 'ttfa_ms'\nstatistic = 'median'\n", "unknown statistic"),
        ("[[checks]]\nmetric = 'ttfa_ms'\nwarn = 0.5\nfail = 0.2\n", "fail .0.2. is below warn"),
        ("[error_rate]\nwarn = 0.5\nfail = 0.2\n", "error_rate: fail"),
        ("threshold = 3\n", "threshold: Extra inputs are not permitted"),
        ("checks = []\n", "checks"),
        ("method = 'guess'\n", "method"),
    ],
)
def test_bad_policies_are_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_a_missing_policy_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path / "absent.toml")
