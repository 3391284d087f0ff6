"""scripts/: one naming style, every script used by something, and every Python script starts.

The benchmarks among them are run by people, not by the suite (their figures depend on the machine),
so the suite checks what breaks silently when the code they import moves: that each one starts and
answers --help. `make lint` runs ruff and shellcheck over them, `make typecheck` pyright.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "scripts").iterdir() if p.is_file())
PYTHON_SCRIPTS = [p for p in SCRIPTS if p.suffix == ".py" and p.name != "pyproject-requirements.py"]
# Where a script counts as used: run by the build, CI or another script, or documented for people.
USERS = [
    ROOT / "Makefile",
    ROOT / "README.md",
    ROOT / ".ci" / "run",
    *ROOT.glob("Dockerfile.*"),
    *(ROOT / "ci" / "src").rglob("*.py"),
    *(ROOT / ".github").rglob("*.yml"),
    *SCRIPTS,
]


def test_script_names_are_lowercase_and_hyphenated() -> None:
    odd = [p.name for p in SCRIPTS if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.(py|sh)", p.name)]
    assert odd == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_is_used_or_documented(script: Path) -> None:
    users = [u for u in USERS if u != script and script.name in u.read_text(encoding="utf-8")]
    assert users, f"nothing runs or documents scripts/{script.name}: remove it or say what it is for"


@pytest.mark.parametrize("script", PYTHON_SCRIPTS, ids=lambda p: p.name)
def test_python_scripts_start_and_explain_themselves(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_pyproject_requirements_writes_one_file_per_group(tmp_path: Path) -> None:
    """What the Dockerfiles install: the runtime dependencies and each extra, as pip requirement files."""
    script = ROOT / "scripts" / "pyproject-requirements.py"
    pyproject = ROOT / "pyproject.toml"
    subprocess.run([sys.executable, str(script), str(pyproject), str(tmp_path)], check=True, timeout=60)
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    expected = {
        "runtime.txt": data["project"]["dependencies"],
        "build.txt": data["build-system"]["requires"],
        **{f"extra-{name}.txt": reqs for name, reqs in data["project"]["optional-dependencies"].items()},
    }
    written = {path.name: path.read_text(encoding="utf-8").splitlines() for path in tmp_path.iterdir()}
    assert written == expected
