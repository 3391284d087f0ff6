"""The pipeline's command lines (vibevoice_ci.commands), unit-tested and run here for real.

The integration tests run the very argument lists the pipeline's containers run, with the tools of
this project's venv first on PATH (the containers have them on PATH too): ruff over a project laid
out like this one, pytest with the pipeline's marker selection over a project with this one's
pytest configuration, and vibevoice-smoke against real services on loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from vibevoice_ci.core import commands

from tests.support.processes import Service, free_port, running
from tests.support.tools import ROOT, require_tool

PYPROJECT = ROOT / "pyproject.toml"


def run(argv: Sequence[str], cwd: Path, tool: str) -> subprocess.CompletedProcess[str]:
    """Run `argv` as the pipeline does, with the directory holding `tool` first on PATH."""
    path = f"{Path(tool).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def junit_cases(report: Path) -> list[tuple[str, bool]]:
    """(name, failed) of every test case in a JUnit XML report pytest wrote."""
    root = ET.parse(report).getroot()  # noqa: S314 - a report our own pytest run just wrote
    return [(case.attrib["name"], case.find("failure") is not None) for case in root.iter("testcase")]


# -- the command lines ---------------------------------------------------------------------------


def test_the_lint_container_installs_the_ruff_this_venv_runs() -> None:
    ruff = require_tool("ruff", "make venv")
    version = subprocess.run([ruff, "--version"], capture_output=True, text=True, check=True).stdout.split()[
        1
    ]
    assert commands.dev_requirement(PYPROJECT.read_text(encoding="utf-8"), "ruff") == f"ruff=={version}"


def test_dev_requirement_compares_names_as_pip_does() -> None:
    pyproject = '[project.optional-dependencies]\ndev = ["Check_JSONSchema>=0.29", "ruff==0.1"]\n'
    assert commands.dev_requirement(pyproject, "check-jsonschema") == "Check_JSONSchema>=0.29"


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ('[project.optional-dependencies]\ndev = ["pytest"]\n', "no requirement on 'ruff'"),
        ("[project]\nname = 'x'\n", "no requirement on 'ruff'"),
        ("[project\n", "not valid TOML"),
    ],
)
def test_dev_requirement_says_what_is_missing(pyproject: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        commands.dev_requirement(pyproject, "ruff")


# -- run for real: ruff ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project laid out like this one, with its pyproject.toml, clean files in src/ tests/ ci/."""
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    for folder in commands.LINT_PATHS:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "clean.py").write_text('"""A clean module."""\n\nVALUE = 1\n', encoding="utf-8")
    return tmp_path


@pytest.mark.integration
def test_ruff_commands_pass_a_clean_project(project: Path) -> None:
    ruff = require_tool("ruff", "make venv")
    for argv in (commands.ruff_check(), commands.ruff_format_check()):
        result = run(argv, project, ruff)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_ruff_check_fails_on_a_lint_error_in_the_pipeline_code(project: Path) -> None:
    ruff = require_tool("ruff", "make venv")
    (project / "ci" / "broken.py").write_text('"""Unused import."""\n\nimport os\n', encoding="utf-8")
    result = run(commands.ruff_check(), project, ruff)
    assert result.returncode == 1
    assert "ci/broken.py" in result.stdout
    assert "F401" in result.stdout
    assert not (project / ".ruff_cache").exists()


@pytest.mark.integration
def test_ruff_format_check_fails_on_an_unformatted_test(project: Path) -> None:
    ruff = require_tool("ruff", "make venv")
    (project / "tests" / "ugly.py").write_text('"""Ugly."""\n\nVALUE   =  { "a":1 }\n', encoding="utf-8")
    result = run(commands.ruff_format_check(), project, ruff)
    assert result.returncode == 1
    assert "tests/ugly.py" in result.stdout + result.stderr


# -- run for real: pytest --------------------------------------------------------------------------

SAMPLE_TESTS = textwrap.dedent(
    """
    import pytest

    def test_unit():
        assert True

    @pytest.mark.integration
    def test_integration():
        assert True

    @pytest.mark.container
    def test_container():
        raise AssertionError("deselected in the pipeline")

    @pytest.mark.slow
    def test_slow():
        raise AssertionError("deselected in the pipeline")

    @pytest.mark.model
    def test_model():
        raise AssertionError("deselected in the pipeline")
    """
)


@pytest.mark.integration
@pytest.mark.parametrize("workers", [False, True])
def test_pytest_command_runs_unit_and_integration_tests_and_writes_the_report(
    tmp_path: Path, workers: bool
) -> None:
    python = require_tool("python3", "make venv")
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")  # this project's markers and strictness
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sample.py").write_text(SAMPLE_TESTS, encoding="utf-8")
    report = tmp_path / "reports" / "junit.xml"

    result = run(commands.pytest(junit_report=str(report), workers=workers), tmp_path, python)

    assert result.returncode == 0, result.stdout + result.stderr
    assert ("workers" in result.stdout) is workers  # xdist's "created: N/N workers"
    cases = {name for name, _ in junit_cases(report)}
    assert cases == {"test_unit", "test_integration"}
    assert not (tmp_path / ".pytest_cache").exists()


@pytest.mark.integration
def test_pytest_command_fails_when_a_selected_test_fails(tmp_path: Path) -> None:
    python = require_tool("python3", "make venv")
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fail.py").write_text(
        "def test_fails():\n    assert 1 == 2\n", encoding="utf-8"
    )
    report = tmp_path / "junit.xml"

    result = run(commands.pytest(junit_report=str(report)), tmp_path, python)

    assert result.returncode == 1
    assert junit_cases(report) == [("test_fails", True)]


# -- run for real: vibevoice-smoke -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tts() -> Iterator[Service]:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    port = free_port()
    with running(["vibevoice-tts", "--engine", "espeak", "--port", str(port)], port=port) as service:
        yield service


@pytest.fixture(scope="module")
def agent(tts: Service) -> Iterator[Service]:
    port = free_port()
    argv = ["vibevoice-agent", "--llm", "scripted", "--tts-url", tts.url, "--port", str(port)]
    with running(argv, port=port) as service:
        yield service


@pytest.mark.integration
def test_smoke_command_passes_against_real_services(tts: Service, agent: Service) -> None:
    smoke = require_tool("vibevoice-smoke", "make venv")
    result = run(commands.smoke(tts.url, agent.url), ROOT, smoke)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_smoke_command_fails_when_the_agent_is_not_an_agent(tts: Service) -> None:
    smoke = require_tool("vibevoice-smoke", "make venv")
    result = run(commands.smoke(tts.url, tts.url), ROOT, smoke)
    assert result.returncode == 1
    assert "agent turn" in result.stdout + result.stderr


def test_lint_checks_what_make_lint_checks() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    sources = next(line for line in makefile.splitlines() if line.startswith("PY_SOURCES := "))
    chart = next(line for line in makefile.splitlines() if line.startswith("CHART := "))
    paths = sources.removeprefix("PY_SOURCES := ").replace("$(CHART)", chart.removeprefix("CHART := "))
    assert tuple(paths.split()) == commands.LINT_PATHS
    assert f"shellcheck {commands.SHELL_SCRIPTS_DIR}/*.sh {commands.CI_ENTRY_POINT}" in makefile
    assert commands.shellcheck(["scripts/a.sh", ".ci/run"]) == ["shellcheck", "scripts/a.sh", ".ci/run"]
    with pytest.raises(ValueError, match="no shell scripts"):
        commands.shellcheck([])
