"""The GitHub client and `vibevoice-bench report` against a fake GitHub API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.bench.factories import make_results, noisy
from tests.bench.fake_github import fake_github_process
from tests.support.processes import Service
from vibevoice_platform.bench.cli import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, main
from vibevoice_platform.bench.github import GitHub, GitHubError, Posted, with_marker

pytestmark = pytest.mark.integration

TOKEN = "ghs_fake_token_for_tests"
REPOSITORY = "octo/voice"
MARKER = "<!-- vibevoice-bench:regression:nightly -->"


@pytest.fixture
def fake_github() -> Iterator[Service]:
    with fake_github_process(REPOSITORY, TOKEN) as service:
        yield service


def _log(service: Service) -> list[str]:
    return httpx.get(f"{service.url}/_log").json()


def _seed(service: Service, **issue: object) -> None:
    httpx.post(f"{service.url}/_seed", json=issue).raise_for_status()


async def _issue_twice(url: str) -> tuple[Posted, Posted]:
    async with GitHub(TOKEN, REPOSITORY, api_url=url) as github:
        first = await github.report_issue("Regression", "ttfa +300 %", MARKER, ["performance"])
        second = await github.report_issue("Regression again", "ttfa +310 %", MARKER)
    return first, second


def test_an_issue_is_opened_once_then_updated(fake_github: Service) -> None:
    # unrelated issues fill more than one page, and a pull request (number 121) carries the marker too
    for n in range(120):
        _seed(fake_github, title=f"other {n}", body="something else")
    _seed(fake_github, title="a PR", body=f"{MARKER}\n(not an issue)", pull_request=True)
    first, second = anyio.run(_issue_twice, fake_github.url)
    assert first.created
    assert not second.created
    assert first.id == second.id == 122
    log = _log(fake_github)
    assert log.count(f"POST /repos/{REPOSITORY}/issues") == 1
    assert log.count(f"PATCH /repos/{REPOSITORY}/issues/122") == 1
    assert f"PATCH /repos/{REPOSITORY}/issues/121" not in log
    assert log.count(f"GET /repos/{REPOSITORY}/issues") == 4  # two pages of 100, twice


async def _comment_twice(url: str) -> tuple[Posted, Posted]:
    async with GitHub(TOKEN, REPOSITORY, api_url=url) as github:
        first = await github.report_comment(1, "first", "<!-- m -->")
        second = await github.report_comment(1, "second", "<!-- m -->")
        return first, second


def test_a_pull_request_comment_is_added_once_then_updated(fake_github: Service) -> None:
    _seed(fake_github, title="the PR", body="change", pull_request=True)
    first, second = anyio.run(_comment_twice, fake_github.url)
    assert (first.created, second.created, first.id) == (True, False, second.id)
    log = _log(fake_github)
    assert log.count(f"POST /repos/{REPOSITORY}/issues/1/comments") == 1
    assert log.count(f"PATCH /repos/{REPOSITORY}/issues/comments/{first.id}") == 1


async def _bad_token(url: str) -> None:
    async with GitHub("wrong", REPOSITORY, api_url=url) as github:
        await github.find_issue(MARKER)


def test_errors_carry_githubs_message_and_never_the_token(fake_github: Service) -> None:
    with pytest.raises(GitHubError, match="401 Bad credentials") as caught:
        anyio.run(_bad_token, fake_github.url)
    assert caught.value.status == 401
    assert "wrong" not in str(caught.value)
    assert TOKEN not in repr(GitHub(TOKEN, REPOSITORY))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="OWNER/NAME"):
        GitHub(TOKEN, "no-slash")
    with pytest.raises(ValueError, match="token is required"):
        GitHub("", REPOSITORY)


def test_the_marker_is_added_once() -> None:
    assert with_marker("body", "<!-- m -->") == "<!-- m -->\nbody"
    assert with_marker("x <!-- m --> y", "<!-- m -->") == "x <!-- m --> y"


def _compared(tmp_path: Path, slow: bool) -> Path:
    baseline, current = tmp_path / "baseline.json", tmp_path / "results.json"
    baseline.write_text(make_results(noisy(40, 50, 1)).model_dump_json(), encoding="utf-8")
    current.write_text(make_results(noisy(160 if slow else 40, 50, 2)).model_dump_json(), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["compare", "--baseline", str(baseline), "--current", str(current), "--out", str(out)])
    assert code == (EXIT_REGRESSION if slow else EXIT_OK)
    return out


def test_report_opens_an_issue_on_a_regression_and_updates_it_the_next_night(
    fake_github: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    out = _compared(tmp_path, slow=True)
    argv = [
        "report", "--comparison", str(out / "comparison.json"), "--summary", str(out / "summary.md"),
        "--repository", REPOSITORY, "--api-url", fake_github.url, "--key", "nightly",
        "--run-url", "https://github.com/octo/voice/actions/runs/1",
    ]  # fmt: skip
    assert main(argv) == EXIT_OK
    assert main(argv) == EXIT_OK
    log = _log(fake_github)
    assert log.count(f"POST /repos/{REPOSITORY}/issues") == 1
    assert log.count(f"PATCH /repos/{REPOSITORY}/issues/1") == 1
    issue = httpx.get(
        f"{fake_github.url}/repos/{REPOSITORY}/issues",
        headers={"Authorization": f"Bearer {TOKEN}", "X-GitHub-Api-Version": "2022-11-28"},
    ).json()[0]
    assert issue["title"] == "Performance regression (nightly)"
    assert issue["body"].startswith(MARKER)
    assert "| ttfa_ms p50 |" in issue["body"]
    assert issue["body"].rstrip().endswith("[Workflow run](https://github.com/octo/voice/actions/runs/1)")


def test_report_on_a_passing_night_opens_nothing(
    fake_github: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    out = _compared(tmp_path, slow=False)
    argv = ["report", "--comparison", str(out / "comparison.json"), "--summary", str(out / "summary.md")]
    assert main([*argv, "--repository", REPOSITORY, "--api-url", fake_github.url]) == EXIT_OK
    assert _log(fake_github) == []
    assert "no issue to open" in capsys.readouterr().err


def test_report_comments_on_a_pull_request_pass_or_fail(
    fake_github: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    _seed(fake_github, title="the PR", body="change", pull_request=True)
    out = _compared(tmp_path, slow=False)
    argv = ["report", "--comparison", str(out / "comparison.json"), "--summary", str(out / "summary.md")]
    argv += ["--repository", REPOSITORY, "--api-url", fake_github.url, "--pull-request", "1"]
    assert main(argv) == EXIT_OK
    assert main(argv) == EXIT_OK
    log = _log(fake_github)
    assert log.count(f"POST /repos/{REPOSITORY}/issues/1/comments") == 1
    assert log.count(f"PATCH /repos/{REPOSITORY}/issues/comments/1000") == 1


def test_report_needs_the_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    out = _compared(tmp_path, slow=True)
    argv = ["report", "--comparison", str(out / "comparison.json"), "--summary", str(out / "summary.md")]
    assert main([*argv, "--repository", REPOSITORY]) == EXIT_ERROR
    assert "set GITHUB_TOKEN" in capsys.readouterr().err


def test_report_names_a_github_failure(
    fake_github: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "not-the-token")
    out = _compared(tmp_path, slow=True)
    argv = ["report", "--comparison", str(out / "comparison.json"), "--summary", str(out / "summary.md")]
    assert main([*argv, "--repository", REPOSITORY, "--api-url", fake_github.url]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "401 Bad credentials" in err
    assert "not-the-token" not in err
