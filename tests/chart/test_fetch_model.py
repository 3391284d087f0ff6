"""The chart's model-fetching init container, run as the pod runs it (`python3 -c` with the pod's
environment) against a fake Hugging Face Hub on loopback: it fetches each repository at its revision,
points `main` at the pinned commit so the offline service loads exactly that by name, fetches nothing the
cache already holds, sends the token without printing it, and fails with the reason."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.chart.chart import Rendered, container
from tests.support.threaded_server import serve_in_thread
from tests.support.tools import unavailable

pytestmark = pytest.mark.integration

PINNED = "a" * 40
LATEST = "b" * 40
TOKEN = "hf_test_not_a_real_token"
# Two revisions of a model, and a tokenizer repository with one.
FILES = {
    ("org/model", PINNED): {"config.json": b'{"revision": "pinned"}', "voices/en.pt": b"\x00" * 64},
    ("org/model", LATEST): {"config.json": b'{"revision": "latest"}', "voices/en.pt": b"\x01" * 64},
    ("org/tokenizer", LATEST): {"tokenizer.json": b"{}", "model.safetensors": b"\x02" * 64},
}
BRANCHES = {"org/model": LATEST, "org/tokenizer": LATEST}


@dataclass
class FakeHub:
    """The few Hub endpoints snapshot_download uses, and a log of what was asked and with what token."""

    requests: list[str] = field(default_factory=list)
    tokens: set[str | None] = field(default_factory=set)

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(
            routes=[
                Route("/api/models/{org}/{name}/revision/{revision}", self._info),
                Route("/{org}/{name}/resolve/{revision}/{path:path}", self._file, methods=["GET", "HEAD"]),
            ]
        )

    def _files(self, request: Request) -> tuple[str, dict[str, bytes]] | None:
        self.requests.append(f"{request.method} {request.url.path}")
        self.tokens.add(request.headers.get("authorization"))
        repo = f"{request.path_params['org']}/{request.path_params['name']}"
        revision = request.path_params["revision"]
        commit = BRANCHES.get(repo) if revision == "main" else revision
        files = FILES.get((repo, commit or ""))
        return None if commit is None or files is None else (commit, files)

    async def _info(self, request: Request) -> Response:
        found = self._files(request)
        if found is None:
            headers = {"X-Error-Code": "RepoNotFound"}  # how the Hub tells a missing repository
            return JSONResponse({"error": "Repository not found"}, status_code=404, headers=headers)
        commit, files = found
        siblings = [{"rfilename": name} for name in files]
        return JSONResponse({"id": request.path_params["name"], "sha": commit, "siblings": siblings})

    async def _file(self, request: Request) -> Response:
        found = self._files(request)
        body = None if found is None else found[1].get(request.path_params["path"])
        if found is None or body is None:
            return JSONResponse({"error": "Entry not found"}, status_code=404)
        headers = {
            "X-Repo-Commit": found[0],
            "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
            "Content-Length": str(len(body)),
        }
        return Response(b"" if request.method == "HEAD" else body, headers=headers)


@pytest.fixture(scope="module")
def huggingface_hub() -> None:
    """The init container runs in the TTS image, whose transformers brings huggingface_hub."""
    if importlib.util.find_spec("huggingface_hub") is None:
        unavailable("huggingface_hub not importable: the dev extra installs it")


@pytest.fixture
def hub(huggingface_hub: None) -> Iterator[tuple[FakeHub, str]]:
    fake = FakeHub()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


def init_command(defaults: Rendered) -> list[str]:
    """The command of the defaults' fetch-model init container."""
    spec = defaults.one("Deployment", "tts")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    return container({"containers": [init]})["command"]


def run_init(defaults: Rendered, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The init container's command, run here with `env` (plus PATH) as the pod's environment."""
    command = init_command(defaults)
    argv = [sys.executable, *command[1:]]
    full_env = {"PATH": os.environ["PATH"], "HF_HUB_DISABLE_TELEMETRY": "1", **env}
    return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=120, check=False)


def load_by_name(cache: Path, repo: str, filename: str) -> str:
    """What the offline service reads for `repo` by name (revision main), as it loads it."""
    code = "import sys; from huggingface_hub import hf_hub_download; print(hf_hub_download(*sys.argv[1:]))"
    env = {"PATH": os.environ["PATH"], "HF_HOME": str(cache), "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-c", code, repo, filename]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True)
    return Path(result.stdout.strip()).read_text()


def test_fetches_pinned_revisions_and_loads_them_offline(
    defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    fake, url = hub
    env = {
        "HF_HOME": str(tmp_path / "cache"),
        "HF_ENDPOINT": url,
        "HF_TOKEN": TOKEN,
        "VIBEVOICE_FETCH_REPOS": f"org/model@{PINNED} org/tokenizer@main:*.json,*.txt",
    }
    first = run_init(defaults, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"fetched org/model@{PINNED}" in first.stdout
    assert TOKEN not in first.stdout + first.stderr
    assert fake.tokens == {f"Bearer {TOKEN}"}
    # The service asks for the model by name, offline: it gets the pinned commit, not the branch's head.
    assert load_by_name(tmp_path / "cache", "org/model", "config.json") == '{"revision": "pinned"}'
    assert load_by_name(tmp_path / "cache", "org/tokenizer", "tokenizer.json") == "{}"
    # the tokenizer's repository is fetched without the files its patterns leave out (its weights)
    assert not any("model.safetensors" in asked for asked in fake.requests)
    assert not list((tmp_path / "cache").rglob("model.safetensors"))

    asked = len(fake.requests)
    again = run_init(defaults, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"cached  org/model@{PINNED}" in again.stdout
    assert len(fake.requests) == asked, "a filled cache is not fetched again"


def test_fails_with_the_reason(defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path) -> None:
    _, url = hub
    env = {"HF_HOME": str(tmp_path), "HF_ENDPOINT": url, "VIBEVOICE_FETCH_REPOS": "org/missing@main"}
    result = run_init(defaults, env)
    assert result.returncode == 1
    assert "FAIL org/missing@main: RepositoryNotFoundError" in result.stdout
    result = run_init(defaults, {"HF_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "FAIL VIBEVOICE_FETCH_REPOS names no repository" in result.stdout
