"""A test marked `serial` never runs beside another test under pytest-xdist (tests/support/serial.py).

A real `pytest --numprocesses 2` on two files, one per worker (`--dist loadfile`): a plain test that
stays in flight until the serial test has arrived (a hook outside the lock writes that down) and then
until the serial test has run or a few seconds have passed; and the serial test, which looks for a
test in flight as it starts. Without the lock it runs at once and finds the plain one; with it, it
waits until the plain one has ended. The waits are deadlines, never measurements.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.inner_pytest import run_pytest
from tests.support.tools import ROOT

CONFTEST = """
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.serial"]
SHARED = Path(__file__).parent / "shared"


def pytest_configure(config):
    config.addinivalue_line("markers", "serial: runs alone")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    (SHARED / f"arrived-{item.name}").touch()  # outside (before) the serial plugin's hold
    return (yield)
"""

PLAIN = """
from conftest import SHARED
from tests.support.processes import wait_for


def test_plain():
    (SHARED / "in-flight").touch()
    try:
        assert wait_for(lambda: (SHARED / "arrived-test_alone").exists(), timeout=120)
        wait_for(lambda: (SHARED / "alone-ran").exists(), timeout=3)  # it must not, while this runs
    finally:
        (SHARED / "in-flight").unlink()
"""

ALONE = """
import pytest

from conftest import SHARED
from tests.support.processes import wait_for


@pytest.mark.serial
def test_alone():
    assert wait_for(lambda: (SHARED / "arrived-test_plain").exists(), timeout=120)
    beside = (SHARED / "in-flight").exists()
    (SHARED / "alone-ran").touch()
    assert not beside, "a test ran beside a serial one"
"""


def test_a_serial_test_waits_for_the_tests_in_flight_and_runs_alone(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_plain.py").write_text(PLAIN)
    (tmp_path / "test_alone.py").write_text(ALONE)
    result = run_pytest(
        ["-q", "--rootdir", str(tmp_path), "--numprocesses", "2", "--dist", "loadfile", str(tmp_path)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
