"""The README's code blocks work as pasted: its shell and Python blocks run in order in one shell, each
TOML block parses, so the README cannot drift from the code.

A block that cannot run here (Dagger, a GPU, a cluster, the internet, a sound device, minutes of load)
is preceded by `<!-- not run by tests/test_readme.py: REASON -->`, so the choice shows in the README.
The blocks run in a scratch folder whose entries link to the checkout's (so files the examples write
land there), with the TTS and agent ports, 8000 and 8080 in the text, moved to free ones, since a stack
started with `make up` or another test may hold those.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port
from tests.support.tools import ROOT, require_tool, unavailable

pytestmark = pytest.mark.integration
SKIP = re.compile(r"<!-- not run by tests/test_readme\.py: (?P<reason>[^>]+?) -->")
FENCE = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
RUN = ("sh", "python")


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    line: int
    lang: str
    body: str
    skip_reason: str | None


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block, with the reason given just before it for not running it."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.fullmatch(before.strip())
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(line, match["lang"], match["body"], skip["reason"] if skip else None))
    return blocks


@pytest.fixture
def readme() -> str:
    """The README of the checkout (a service's test image holds only tests/: nothing to check there)."""
    if not (ROOT / "README.md").is_file() or not (ROOT / "Makefile").is_file():
        unavailable("not in a checkout of the repository (README.md, Makefile)")
    return (ROOT / "README.md").read_text()


def test_every_skip_marker_stands_before_a_block_and_gives_a_reason(readme: str) -> None:
    text = readme
    marked = [b for b in readme_blocks(text) if b.skip_reason is not None]
    assert len(marked) == len(SKIP.findall(text)) == text.count("not run by tests/test_readme.py")
    assert all(b.skip_reason and b.lang in RUN for b in marked)


def test_every_toml_block_parses(readme: str) -> None:
    for block in readme_blocks(readme):
        if block.lang == "toml":
            tomllib.loads(block.body)


def _script(blocks: list[Block], folder: Path, tts_port: int, agent_port: int) -> str:
    """The blocks to run as one bash script, ports moved, Python blocks as files run in turn."""
    lines = ["set -eo pipefail", f"export VIBEVOICE_TTS_PORT={tts_port} VIBEVOICE_AGENT_PORT={agent_port}"]
    for block in blocks:
        body = block.body.replace(":8000", f":{tts_port}").replace(":8080", f":{agent_port}")
        lines.append(f"echo '--- README.md line {block.line}' >&2")
        if block.lang == "python":
            source = folder / f"readme-{block.line}.py"
            source.write_text(body)
            lines.append(f"python {source}")
        else:
            lines.append(body)
    return "\n".join(lines) + "\n"


def test_the_readmes_shell_and_python_blocks_run_as_pasted(readme: str, tmp_path: Path) -> None:
    require_tool("espeak-ng", "apt-get install espeak-ng")
    require_tool("curl", "apt-get install curl")
    require_tool("make", "apt-get install make")
    if subprocess.run(["make", "-q", "venv"], cwd=ROOT, check=False).returncode != 0:
        unavailable(".venv is older than pyproject.toml: `make venv` first (it would reinstall here)")
    work = tmp_path / "checkout"
    work.mkdir()
    for entry in ROOT.iterdir():
        (work / entry.name).symlink_to(entry)
    blocks = [
        b for b in readme_blocks((ROOT / "README.md").read_text()) if b.lang in RUN and not b.skip_reason
    ]
    script = _script(blocks, tmp_path, free_port(), free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIBEVOICE_", "VIRTUAL_ENV"))}
    log = tmp_path / "readme.log"  # a file, not a pipe: the services left running would hold a pipe open
    with log.open("w") as sink:
        shell = subprocess.Popen(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the services the README starts in the background die with the group
        )
        try:
            shell.wait(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGTERM)
    output = log.read_text()
    assert shell.returncode == 0, output
    assert "smoke test passed" in output
    assert "closed 1000: end of session: all text spoken" in output  # the WebSocket example's last line
    for written in ("hello.mp3", "hello.wav", "speech.mp3", "out/results.json", "gate/baseline.json"):
        assert (work / written).stat().st_size > 0, written
