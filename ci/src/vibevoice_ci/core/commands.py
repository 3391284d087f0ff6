"""Every command line a pipeline container runs, as plain data.

The module's containers run exactly these argument lists, and the tests run the same lists on this
machine where the tool exists (ruff, pytest, vibevoice-smoke), so a typo in a flag fails here first.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence

# What `lint` checks (as `make lint`): the product, its tests, the pipeline, scripts/ and the chart's
# helm test script; shellcheck over the shell scripts.
LINT_PATHS = ("src", "tests", "ci", "scripts", "infra/k8s/charts/vibevoice/files")
SHELL_SCRIPTS_DIR = "scripts"
CI_ENTRY_POINT = ".ci/run"
# Inside the pipeline, tests that need a container engine, minutes of emulation or the model's extra
# are deselected: the pipeline itself builds and runs the containers.
PIPELINE_TEST_MARKERS = "not container and not slow and not model"
# The chart's checkers (kube-score, checkov, promtool) are built from the Go module proxy and PyPI by
# scripts/install-chart-checkers.sh, which needs a Go toolchain the module has no pinned image of: their
# tests run in `make test` (.ci/run installs them), not in the pipeline's chart tests.
CHART_TEST_MARKERS = f"{PIPELINE_TEST_MARKERS} and not checkers"
PRODUCT_TESTS = ("tests",)
# The suites that run outside the service images, in the repository's dev environment.
PIPELINE_TESTS = ("ci/tests",)
CHART_TESTS = ("tests/chart",)
# Tests of the repository itself (its scripts/), which the service images do not carry.
REPOSITORY_TESTS = ("tests/test_scripts.py", "tests/integration/test_soak_short.py")
MODEL_MARKER = "model"
# pyright's two configurations: the product (pyproject.toml) and the pipeline, strict (ci/pyproject.toml).
PYRIGHT_PROJECTS = (".", "ci")
REQUIREMENTS_SCRIPT = "scripts/pyproject-requirements.py"
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
JUNIT_REPORT = "/tmp/reports/junit.xml"  # noqa: S108 - a path inside the test container


def ruff_check(paths: Sequence[str] = LINT_PATHS) -> list[str]:
    """ruff's linter over `paths` (configuration from the root pyproject.toml)."""
    return ["ruff", "check", "--no-cache", *paths]


def shellcheck(scripts: Sequence[str]) -> list[str]:
    """shellcheck over `scripts` (`make lint` checks the same files)."""
    if not scripts:
        msg = "no shell scripts to check"
        raise ValueError(msg)
    return ["shellcheck", *scripts]


def ruff_format_check(paths: Sequence[str] = LINT_PATHS) -> list[str]:
    """ruff's formatter in check mode: fails when a file would be reformatted."""
    return ["ruff", "format", "--check", "--no-cache", *paths]


def pip_install(requirements: Sequence[str]) -> list[str]:
    """pip install into the container's Python, quietly and without the root-user warning."""
    if not requirements:
        msg = "nothing to install"
        raise ValueError(msg)
    return [
        "python3",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        *requirements,
    ]


def apt_install(packages: Sequence[str]) -> list[str]:
    """Debian packages installed without recommendations, the package lists dropped after."""
    if not packages:
        msg = "nothing to install"
        raise ValueError(msg)
    script = (
        "apt-get update && apt-get install -y --no-install-recommends "
        + " ".join(packages)
        + " && rm -rf /var/lib/apt/lists/*"
    )
    return ["sh", "-c", script]


def requirement_files(script: str, outdir: str) -> list[str]:
    """`outdir/pyproject.toml`'s requirement groups as pip requirement files in `outdir` (runtime.txt,
    extra-dev.txt, ...), written by scripts/pyproject-requirements.py copied to `script`."""
    return ["python3", script, f"{outdir}/pyproject.toml", outdir]


def on_python_path(directory: str) -> list[str]:
    """A .pth file in the running Python's site-packages putting `directory` on its import path: what
    an editable install does, without the package's metadata (whose build would read the README)."""
    script = (
        "import pathlib, sys, sysconfig; "
        "pathlib.Path(sysconfig.get_path('purelib'), 'vibevoice-source.pth').write_text(sys.argv[1] + '\\n')"
    )
    return ["python3", "-c", script, directory]


def venv(path: str) -> list[str]:
    """A virtual environment at `path`."""
    return ["python3", "-m", "venv", path]


def pyright(project: str) -> list[str]:
    """pyright with the configuration of the project in `project` (its pyproject.toml)."""
    return ["pyright", "--project", project]


# pytest-xdist as `make pytest` runs it: a worker per core, a test group (xdist_group) on one worker.
XDIST = ("--numprocesses", "auto", "--dist", "loadgroup")


def pytest(
    junit_report: str = JUNIT_REPORT,
    markers: str = PIPELINE_TEST_MARKERS,
    paths: Sequence[str] = PRODUCT_TESTS,
    *,
    workers: bool = False,
) -> list[str]:
    """The product's tests as the pipeline runs them, with a JUnit XML report; no cache dir written.

    The paths are explicit: the pipeline module's own tests (ci/tests) run in `make test`, not in
    the service images. `workers`: a worker per core of the engine, as `make pytest` runs them
    (pytest-xdist; tests marked `serial` run alone, tests/support/serial.py); the service images set
    their own (PYTEST_ADDOPTS in their test stage).
    """
    return [
        "python3",
        "-m",
        "pytest",
        "-m",
        markers,
        f"--junitxml={junit_report}",
        "-p",
        "no:cacheprovider",
        *(XDIST if workers else ()),
        *paths,
    ]


def smoke(tts_url: str, agent_url: str) -> list[str]:
    """vibevoice-smoke against a TTS and an agent: exits 0 on success, 1 with a message otherwise."""
    return ["vibevoice-smoke", "--tts-url", tts_url, "--agent-url", agent_url]


def dev_requirement(pyproject: str, name: str) -> str:
    """The requirement on `name` in the dev extra of a pyproject.toml (e.g. "ruff==0.17.6").

    The lint container installs the very tool version the developers' venv pins.
    """
    try:
        document = tomllib.loads(pyproject)
    except tomllib.TOMLDecodeError as exc:
        msg = f"pyproject.toml is not valid TOML: {exc}"
        raise ValueError(msg) from None
    dev = document.get("project", {}).get("optional-dependencies", {}).get("dev", [])
    wanted = _normalized(name)
    for entry in dev:
        match = _REQUIREMENT_NAME.match(entry)
        if match and _normalized(match[1]) == wanted:
            return entry.strip()
    msg = f"no requirement on {name!r} in [project.optional-dependencies] dev"
    raise ValueError(msg)


def _normalized(name: str) -> str:
    """A distribution name compared the way pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def git_commit_time() -> list[str]:
    """The checked-out commit's committer time, ISO 8601 with its offset (what `created` takes)."""
    return ["git", "-c", "safe.directory=*", "log", "-1", "--format=%cI", "HEAD"]
