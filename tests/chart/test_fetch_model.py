"""The chart's model-fetching init container, run as the pod runs it (`python3 -c` with the pod's
environment) against a fake Hugging Face Hub on loopback: it fetches each repository at its revision,
points `main` at the pinned commit so the offline service loads exactly that by name, fetches from the
Hub mirror the chart names, fetches nothing a
complete cache holds, uses no cache that is not complete (a half-fetched snapshot, a file gone, other file
patterns), resumes a file whose download was cut, sends the token without printing it, and fails with the
reason."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.chart.chart import Rendered, container, env_of, render
from tests.support.threaded_server import serve_in_thread
from tests.support.tools import unavailable

pytestmark = pytest.mark.integration

PINNED = "a" * 40
LATEST = "b" * 40
TOKEN = "hf_test_not_a_real_token"
WEIGHTS = bytes(range(256)) * 16  # 4 KiB, all different, so a resumed download at the wrong offset shows
# Two revisions of a model, and a tokenizer repository with one.
FILES = {
    ("org/model", PINNED): {"config.json": b'{"revision": "pinned"}', "voices/en.pt": WEIGHTS},
    ("org/model", LATEST): {"config.json": b'{"revision": "latest"}', "voices/en.pt": b"\x01" * 64},
    ("org/tokenizer", LATEST): {
        "tokenizer.json": b"{}",
        "merges.txt": b"a b\n",
        "model.safetensors": b"\x02" * 64,
    },
}
BRANCHES = {"org/model": LATEST, "org/tokenizer": LATEST}


@dataclass
class FakeHub:
    """The few Hub endpoints snapshot_download uses, and a log of what was asked and with what token."""

    requests: list[str] = field(default_factory=list)
    tokens: set[str | None] = field(default_factory=set)
    ranges: list[str] = field(default_factory=list)

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
        headers = {"X-Repo-Commit": found[0], "ETag": f'"{etag(body)}"', "Content-Length": str(len(body))}
        if request.method == "HEAD":
            return Response(b"", headers=headers)
        start = parse_range(request.headers.get("range"))
        if start is None:
            return Response(body, headers=headers)
        self.ranges.append(f"{request.path_params['path']} bytes={start}-")
        headers |= {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        headers["Content-Length"] = str(len(body) - start)
        return Response(body[start:], status_code=206, headers=headers)


def etag(body: bytes) -> str:
    """The ETag the fake Hub gives a file (the Hub gives LFS files their sha256), which names its blob."""
    return hashlib.sha256(body).hexdigest()


def parse_range(header: str | None) -> int | None:
    """The first byte of a `Range: bytes=N-` header (what a resumed download asks for), or None."""
    if header is None or not header.startswith("bytes=") or not header.endswith("-"):
        return None
    return int(header.removeprefix("bytes=").removesuffix("-"))


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


def init_of(rendered: Rendered) -> dict[str, Any]:
    """The fetch-model init container of a render."""
    (init,) = rendered.workload("tts")["spec"]["template"]["spec"]["initContainers"]
    return init


def init_command(defaults: Rendered) -> list[str]:
    """The command of the defaults' fetch-model init container."""
    return container({"containers": [init_of(defaults)]})["command"]


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


def hub_env(url: str, cache: Path, repos: str, **extra: str) -> dict[str, str]:
    """The init container's environment against the fake Hub."""
    return {"HF_HOME": str(cache), "HF_ENDPOINT": url, "VIBEVOICE_FETCH_REPOS": repos, **extra}


def init_ok(defaults: Rendered, env: dict[str, str]) -> str:
    """Run the init container, which must succeed; its output."""
    result = run_init(defaults, env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def snapshot(cache: Path, repo: str, commit: str) -> Path:
    """The Hub cache's snapshot folder of `repo` at `commit`."""
    return cache / "hub" / ("models--" + repo.replace("/", "--")) / "snapshots" / commit


def test_fetches_pinned_revisions_and_loads_them_offline(
    defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    fake, url = hub
    cache = tmp_path / "cache"
    env = hub_env(url, cache, f"org/model@{PINNED} org/tokenizer@{LATEST}:*.json,*.txt", HF_TOKEN=TOKEN)
    first = init_ok(defaults, env)
    assert f"fetched org/model@{PINNED} (2 files)" in first
    assert TOKEN not in first
    assert fake.tokens == {f"Bearer {TOKEN}"}
    # The service asks for the model by name, offline: it gets the pinned commit, not the branch's head.
    assert load_by_name(cache, "org/model", "config.json") == '{"revision": "pinned"}'
    assert load_by_name(cache, "org/tokenizer", "tokenizer.json") == "{}"
    # the tokenizer's repository is fetched without the files its patterns leave out (its weights)
    assert not any("model.safetensors" in asked for asked in fake.requests)
    assert not list(cache.rglob("model.safetensors"))
    # the manifest lists each file and its size
    manifest = json.loads((cache / "vibevoice-manifests" / "org--model" / f"{PINNED}.json").read_text())
    assert manifest["files"] == {"config.json": 22, "voices/en.pt": len(WEIGHTS)}

    asked = len(fake.requests)
    again = init_ok(defaults, env)
    assert f"cached  org/model@{PINNED}" in again
    assert f"cached  org/tokenizer@{LATEST}" in again
    assert len(fake.requests) == asked, "a complete cache at pinned commits is not asked for again"


def test_the_chart_points_the_fetch_at_a_hub_mirror(
    helm: str, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    """tts.modelCache.hubEndpoint reaches the init container as HF_ENDPOINT, so a site's Hub mirror is
    where the weights come from. A cluster showed the need: with nothing to set it, a fake Hub beside an
    offline cluster could not be used, nor could a mirror where the Hub is not reachable."""
    fake, url = hub
    cache = {"revision": PINNED, "extraRepos": [], "hubEndpoint": url}
    rendered = render(helm, values={"tts": {"gpu": {"model": "org/model"}, "modelCache": cache}})
    env = {name: value for name, value in env_of(init_of(rendered)).items() if isinstance(value, str)}
    assert env["HF_ENDPOINT"] == url
    output = init_ok(rendered, {**env, "HF_HOME": str(tmp_path)})
    assert f"fetched org/model@{PINNED} (2 files)" in output
    assert f"GET /api/models/org/model/revision/{PINNED}" in fake.requests
    assert "HF_ENDPOINT" not in env_of(init_of(render(helm)))  # by default: the Hub itself


def test_a_branch_is_followed_without_fetching_what_is_there(
    defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    fake, url = hub
    env = hub_env(url, tmp_path, "org/tokenizer@main:*.json")
    init_ok(defaults, env)
    asked = len(fake.requests)
    again = init_ok(defaults, env)
    assert "fetched org/tokenizer@main (1 files)" in again
    # one question (where the branch points now); the file at that commit is already complete
    assert fake.requests[asked:] == ["GET /api/models/org/tokenizer/revision/main"]


def test_a_half_fetched_snapshot_is_not_used(
    defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    """The issue's reproduction: a snapshot folder holding only config.json (an init container that was
    stopped) counted as cached. Without a manifest it is fetched, and so is a file gone since."""
    _, url = hub
    env = hub_env(url, tmp_path, f"org/model@{PINNED}")
    partial = [sys.executable, "-c", PARTIAL_FETCH, "org/model", PINNED]
    subprocess.run(partial, env={**os.environ, **env}, check=True, timeout=60, capture_output=True)
    assert sorted(p.name for p in snapshot(tmp_path, "org/model", PINNED).iterdir()) == ["config.json"]

    assert f"fetched org/model@{PINNED} (2 files)" in init_ok(defaults, env)
    assert (snapshot(tmp_path, "org/model", PINNED) / "voices" / "en.pt").read_bytes() == WEIGHTS

    (snapshot(tmp_path, "org/model", PINNED) / "voices" / "en.pt").unlink()
    assert f"fetched org/model@{PINNED} (2 files)" in init_ok(defaults, env)
    assert f"cached  org/model@{PINNED}" in init_ok(defaults, env)


# What an init container stopped after the first file leaves: huggingface_hub's own fetch of config.json.
PARTIAL_FETCH = (
    "import sys; from huggingface_hub import snapshot_download; "
    "snapshot_download(sys.argv[1], revision=sys.argv[2], allow_patterns=['config.json'])"
)


def test_an_interrupted_download_resumes(
    defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    """A pod stopped mid-download leaves the first part of the file as the blob's `.incomplete`; the next
    start asks for the rest only (a Range request) and the file comes out whole."""
    fake, url = hub
    blob = tmp_path / "hub" / "models--org--model" / "blobs" / etag(WEIGHTS)
    blob.parent.mkdir(parents=True)
    half = len(WEIGHTS) // 2
    blob.with_name(blob.name + ".incomplete").write_bytes(WEIGHTS[:half])
    init_ok(defaults, hub_env(url, tmp_path, f"org/model@{PINNED}"))
    assert fake.ranges == [f"voices/en.pt bytes={half}-"]
    assert (snapshot(tmp_path, "org/model", PINNED) / "voices" / "en.pt").read_bytes() == WEIGHTS


def test_changed_file_patterns_fetch_the_new_files(
    defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path
) -> None:
    _, url = hub
    tokenizer = snapshot(tmp_path, "org/tokenizer", LATEST)
    init_ok(defaults, hub_env(url, tmp_path, f"org/tokenizer@{LATEST}:*.json"))
    assert not (tokenizer / "merges.txt").exists()
    wider = hub_env(url, tmp_path, f"org/tokenizer@{LATEST}:*.txt,*.json")
    assert f"fetched org/tokenizer@{LATEST} (2 files)" in init_ok(defaults, wider)
    assert (tokenizer / "merges.txt").read_bytes() == b"a b\n"
    assert f"cached  org/tokenizer@{LATEST}" in init_ok(defaults, wider)


def test_fails_with_the_reason(defaults: Rendered, hub: tuple[FakeHub, str], tmp_path: Path) -> None:
    _, url = hub
    result = run_init(defaults, hub_env(url, tmp_path, "org/missing@main"))
    assert result.returncode == 1
    assert "FAIL org/missing@main: RepositoryNotFoundError" in result.stdout
    result = run_init(defaults, {"HF_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "FAIL VIBEVOICE_FETCH_REPOS names no repository" in result.stdout
