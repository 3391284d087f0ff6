"""What `dagger call ci` adds to the images' own tests, so that it checks everything `make test` does:
the suites it runs outside the images, the requirement files and commit time its containers make,
the container checks' scripts (run here against real processes), and the Dockerfiles' promises that
a code change reinstalls nothing. That `ci` runs every check is test_invariants'.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from vibevoice_ci.core import commands, toolchain
from vibevoice_ci.core.metadata import commit_time
from vibevoice_ci.images import check_scripts

from tests.support.processes import free_port
from tests.support.tools import ROOT, require_tool


def run(argv: Sequence[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# -- the dev environment: pyright, ci/tests, the chart tests ---------------------------------------------


def test_the_suites_are_the_ones_make_test_runs() -> None:
    assert commands.pytest(paths=commands.PIPELINE_TESTS)[-1] == "ci/tests"
    assert commands.pytest(paths=commands.CHART_TESTS)[-1] == "tests/chart"
    assert all((ROOT / path).is_dir() for path in (*commands.PIPELINE_TESTS, *commands.CHART_TESTS))


def test_the_requirement_files_command_writes_each_group(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    argv = commands.requirement_files(str(ROOT / commands.REQUIREMENTS_SCRIPT), str(tmp_path))
    argv[0] = sys.executable
    result = run(argv)
    assert result.returncode == 0, result.stderr
    assert {"runtime.txt", "extra-dev.txt", "extra-gpu.txt"} <= {path.name for path in tmp_path.iterdir()}


def test_the_commit_time_command_gives_what_created_takes(tmp_path: Path) -> None:
    git = require_tool("git", "apt-get install git")
    when = "2024-05-01T12:00:00+02:00"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    for argv in (
        ["init", "--quiet"],
        [
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "c",
        ],
    ):
        subprocess.run([git, *argv], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=60)
    result = run(commands.git_commit_time(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == when
    assert commit_time(result.stdout.strip()) == "2024-05-01T10:00:00Z"


def test_the_repository_tests_run_in_the_dev_environment_not_in_the_images() -> None:
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert all(path in dockerignore for path in commands.REPOSITORY_TESTS)
    assert commands.pytest(paths=commands.REPOSITORY_TESTS)[-2:] == list(commands.REPOSITORY_TESTS)


# What a service's test image holds of the repository: what its test stage copies, less .dockerignore.
REPOSITORY_FILES = re.compile(
    r"""["'/](?:scripts|infra|ci)/|README\.md|Makefile|Dockerfile\.|ROOT / ["'](?:scripts|infra|ci)["']"""
)


def test_no_test_the_images_run_reads_a_file_they_do_not_carry() -> None:
    # Found running `dagger call test` on an engine: tests/test_scripts.py listed scripts/ at import and
    # the soak test ran scripts/soak.py, both absent from the test images (which copy tests/ alone).
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()]
    excluded = [line for line in ignored if line.startswith("tests/")]
    shipped = [
        path
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if not any(str(path.relative_to(ROOT)).startswith(prefix) for prefix in excluded)
    ]
    readers = [
        str(path.relative_to(ROOT))
        for path in shipped
        if REPOSITORY_FILES.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == [], "run these from the dev environment (REPOSITORY_TESTS) and .dockerignore them"


# -- the container checks: their scripts, run here --------------------------------------------------------


def test_nothing_but_tmp_is_writable_is_what_the_check_looks_for(tmp_path: Path) -> None:
    (tmp_path / "allowed").mkdir()
    (tmp_path / "allowed" / "scratch").write_text("x")
    (tmp_path / "leak").write_text("x")
    (tmp_path / "lock").symlink_to(tmp_path / "allowed")  # as Debian's /var/lock -> /run/lock
    argv = check_scripts.writable_outside([str(tmp_path / "allowed")])
    script = argv[-1].replace("find / -xdev", f"find {tmp_path}")
    found = run([*argv[:-1], script]).stdout.split()
    assert str(tmp_path / "leak") in found
    assert not [path for path in found if path.startswith(str(tmp_path / "allowed"))]
    assert str(tmp_path / "lock") not in found  # a link is judged at its target


def test_the_leftovers_script_names_a_compiler_it_finds(tmp_path: Path) -> None:
    fake = tmp_path / "gcc"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    result = subprocess.run(
        check_scripts.leftovers(),
        env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert str(fake) in result.stdout.split()


def probe(port: int) -> list[str]:
    """A HEALTHCHECK like the images': python, no proxy, /ready on loopback."""
    url = f"http://127.0.0.1:{port}/"
    code = f"import urllib.request as r; r.build_opener(r.ProxyHandler({{}})).open({url!r}, timeout=2)"
    return check_scripts.healthcheck_command([sys.executable, "-c", code], shell=False)


def test_healthy_starts_the_entrypoint_and_waits_for_its_healthcheck(tmp_path: Path) -> None:
    port = free_port()
    entrypoint = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    result = subprocess.run(
        check_scripts.healthy(entrypoint, probe(port)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("healthy after")


def test_healthy_fails_when_the_healthcheck_never_passes(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        check_scripts.healthy([sys.executable, "-c", "import time; time.sleep(30)"], probe(port), attempts=2),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "never healthy" in result.stderr or "the service exited" in result.stderr


def test_a_shell_healthcheck_runs_through_sh() -> None:
    assert check_scripts.healthcheck_command(["curl -f localhost || exit 1"], shell=True) == [  # noqa: S604
        "sh",
        "-c",
        "curl -f localhost || exit 1",
    ]
    with pytest.raises(ValueError, match="no entrypoint or no HEALTHCHECK"):
        check_scripts.healthy([], ["true"])


# -- the pip cache's round trip ------------------------------------------------------------------------


BUILDS_CACHE_MOUNT = f"--mount=type=cache,id={toolchain.PIP_CACHE_ID},target={toolchain.PIP_CACHE_PATH}"


# Built by a release only (cuda's test stage): their installs after the project are not on ci's path.
RELEASE_ONLY_STAGES = frozenset({"test-cuda"})


def stages(dockerfile: str) -> list[tuple[str, str, list[str]]]:
    """(name, base, instructions) of each stage; continuation lines joined into one instruction."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    found: list[tuple[str, str, list[str]]] = []
    for line in joined.splitlines():
        if match := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line):
            found.append((match[2], match[1], []))
        elif found and line.strip() and not line.startswith("#"):
            found[-1][2].append(line.strip())
    return found


@pytest.mark.parametrize("name", ["Dockerfile.tts", "Dockerfile.agent"])
def test_a_source_change_reinstalls_no_dependency_in_any_image_ci_builds(name: str) -> None:
    # Found timing `dagger call ci` after a one-line change: the test stages stood on the runtime,
    # project included, so the dev extra (and torch) were downloaded and installed again.
    installs = re.compile(r"pip (?:install|download)(?! --no-index)")
    with_project: set[str] = set()
    for stage, base, lines in stages((ROOT / name).read_text(encoding="utf-8")):
        for line in lines:
            if stage in with_project and stage not in RELEASE_ONLY_STAGES:
                assert not installs.search(line), f"{name} {stage}: installs after the project: {line}"
            if base in with_project or "from=project" in line:
                with_project.add(stage)
    assert not {"dev-deps", "model-deps"} & with_project  # what the test stage stands on (TEST_DEPS)
    assert {"test", "runtime"} <= with_project


@pytest.mark.parametrize("name", ["Dockerfile.tts", "Dockerfile.agent"])
def test_every_pip_download_goes_through_the_cache_mount_with_the_cache_enabled(name: str) -> None:
    parsed = stages((ROOT / name).read_text(encoding="utf-8"))
    disabled: dict[str, bool] = {}
    downloads = 0
    for stage, base, instructions in parsed:
        disabled[stage] = disabled.get(base, False) or any(
            line.startswith("ENV") and "PIP_NO_CACHE_DIR" in line for line in instructions
        )
        for line in instructions:
            pip_runs = re.findall(r"(?:env -u PIP_NO_CACHE_DIR )?pip (?:install|wheel|download)[^&]*", line)
            # --no-index installs only local wheels; a --no-build-isolation wheel of the project, nothing
            from_an_index = [
                run for run in pip_runs if "--no-index" not in run and "--no-build-isolation" not in run
            ]
            if not line.startswith("RUN") or not from_an_index:
                continue
            downloads += len(from_an_index)
            mount = f"--mount=type=cache,id={toolchain.PIP_CACHE_ID},target={toolchain.PIP_CACHE_PATH}"
            assert mount in line, f"{stage}: {line}"  # the module's volume: seeded, snapshotted
            if disabled[stage]:  # PIP_NO_CACHE_DIR disables the cache whatever its value
                assert all(run.startswith("env -u PIP_NO_CACHE_DIR") for run in from_an_index), line
    assert downloads >= 2
    assert not disabled["builder"]
