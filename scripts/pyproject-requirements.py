#!/usr/bin/env python3
"""Write pyproject.toml's requirements as pip requirement files, one per group, for image builds.

    pyproject-requirements.py pyproject.toml OUTDIR

writes OUTDIR/runtime.txt (project.dependencies), OUTDIR/build.txt (build-system.requires) and
OUTDIR/extra-NAME.txt for each optional-dependencies group. The Dockerfiles copy only the files a
layer needs, so a change to one group (the dev tools, say) leaves the cached layers of the others
valid: the dependency wheels are rebuilt only when the runtime requirements really change.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def write(path: Path, requirements: list[str]) -> None:
    """One requirement a line, in the order pyproject.toml gives them."""
    path.write_text("".join(f"{requirement}\n" for requirement in requirements))


def main(argv: list[str]) -> int:
    """Read the pyproject, write the files."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    pyproject, outdir = Path(argv[0]), Path(argv[1])
    with pyproject.open("rb") as stream:
        data = tomllib.load(stream)
    project = data.get("project", {})
    outdir.mkdir(parents=True, exist_ok=True)
    write(outdir / "runtime.txt", project.get("dependencies", []))
    write(outdir / "build.txt", data.get("build-system", {}).get("requires", []))
    for extra, requirements in project.get("optional-dependencies", {}).items():
        write(outdir / f"extra-{extra}.txt", requirements)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
