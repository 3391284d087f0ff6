"""What the module refuses before it builds or pushes anything: bad flags fail at once, by name.

These call the module's functions in-process with lazily built inputs: a refusal raises before the
first query would be sent, so no engine is needed (the recording runs every function through to its
end; here only the arguments that must stop it).
"""

from __future__ import annotations

from functools import partial

import anyio
import dagger
import pytest
from dagger import dag
from vibevoice_ci.main import Vibevoice
from vibevoice_ci.release.identity import MissingCredentials
from vibevoice_ci.release.object import Release

SHA = "0123456789abcdef0123456789abcdef01234567"
SOURCE = dag.directory().with_new_file("marker", "the repository")
HEAD = dag.git("https://github.com/owner/project").head()


@pytest.fixture
def pipeline() -> Vibevoice:
    return Vibevoice(source=SOURCE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service": "asr"}, "unknown service"),
        ({"service": "agent", "target": "cuda"}, "has no target 'cuda'"),
        ({"service": "tts", "platform": "arm64"}, "not a platform"),
        ({"service": "tts", "created": "2024-05-01 12:00"}, "no UTC offset"),
    ],
)
def test_build(pipeline: Vibevoice, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        anyio.run(partial(pipeline.build, **kwargs))


@pytest.mark.parametrize(
    ("mirror", "image", "download", "message"),
    [
        (["docker.io"], [], [], "expected HOST=PREFIX"),
        (["docker.io=https://reg"], [], [], "a registry host and a registry"),
        ([], ["kubectl=reg/kubectl:1"], [], "no such image; choose one of"),
        ([], ["python=Not A Reference"], [], "not an image reference"),
        ([], ["python="], [], "expected NAME=REFERENCE"),
        ([], [], ["pip=http://reg/simple"], "no such download; choose one of"),
        ([], [], ["torch-index=ftp://reg/simple"], "not an http"),
    ],
)
def test_the_redirects(mirror: list[str], image: list[str], download: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        anyio.run(
            partial(
                Vibevoice(source=SOURCE, mirror=mirror, image=image, download=download).build, service="tts"
            )
        )


@pytest.mark.parametrize(
    ("ref", "sha", "message"),
    [("refs/tags/v1.2", SHA, "not v<semantic version>"), ("refs/heads/main", "HEAD", "not a git commit id")],
)
def test_publish(pipeline: Vibevoice, ref: str, sha: str, message: str) -> None:
    password = dag.set_secret("registry-password", "x")
    publish = partial(
        pipeline.publish,
        registry="ghcr.io",
        repository="owner/project",
        username="robot",
        password=password,
        ref=ref,
        sha=sha,
        git=HEAD,
    )
    with pytest.raises(ValueError, match=message):
        anyio.run(publish)


def release(**identity: object) -> Release:
    defaults: dict[str, object] = {
        "github_repository": "Owner/Project",
        "username": "robot",
        "password": dag.set_secret("registry-password", "x"),
        "ref": "refs/heads/main",
        "sha": SHA,
        "oidc_request_token": dag.set_secret("request-token", "t"),
        "oidc_request_url": dag.set_secret("request-url", "u"),
    }
    return Vibevoice(source=SOURCE).release(**(defaults | identity))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"oidc_request_url": None}, "needs both"),
        ({"id_token": dag.set_secret("id-token", "t")}, "exactly one of"),
        ({"password": None}, "needs the registry password"),
        ({"ref": "refs/tags/v1.2"}, "not v<semantic version>"),
        ({"sha": "HEAD"}, "not a git commit id"),
    ],
)
def test_a_release(identity: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        anyio.run(partial(release(**identity).run, repository="owner/project", git=HEAD))


def test_a_release_for_a_platform_that_is_none() -> None:
    with pytest.raises(ValueError, match="not a platform"):
        release(platforms=["arm64"])


def test_a_release_step_without_the_password_says_how_to_give_it() -> None:
    with pytest.raises(MissingCredentials, match="--password env://NAME"):
        anyio.run(partial(release(password=None).sign, ["ghcr.io/owner/project-tts@sha256:" + "a" * 64]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests": 0}, "requests must be at least 1"),
        ({"concurrency": 0}, "concurrency must be at least 1"),
        ({"warmup": -1}, "warmup must not be negative"),
        ({"timeout": 0.0}, "timeout must be positive"),
        ({"corpus": "poems"}, "unknown corpus 'poems'"),
        ({"scenarios": ["tts-grpc"]}, "unknown scenario 'tts-grpc'"),
        ({"scenarios": []}, "at least one scenario"),
        ({"git_sha": "HEAD"}, "not a git commit id"),
        ({"platform": "arm64"}, "not a platform"),
    ],
)
def test_bench(pipeline: Vibevoice, kwargs: dict[str, object], message: str) -> None:
    bench = partial(pipeline.bench, enforce=False, **kwargs)
    with pytest.raises(ValueError, match=message):
        anyio.run(bench)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repository": "no-slash"}, "OWNER/NAME"),
        ({"key": "Nightly Run"}, "key must be"),
        ({"pull_request": 0}, "start at 1"),
        ({"run_url": "actions/runs/1"}, "http"),
    ],
)
def test_the_benchmark_report(pipeline: Vibevoice, kwargs: dict[str, object], message: str) -> None:
    results: dagger.Directory = dag.directory().with_new_file(
        "tts-http/comparison.json", '{"verdict": "fail"}'
    )
    arguments: dict[str, object] = {
        "token": dag.set_secret("github-token", "x"),
        "repository": "octo/voice",
        "results": results,
    }

    async def call() -> str:
        return await pipeline.benchmark().report(**(arguments | kwargs))  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=message):
        anyio.run(call)
