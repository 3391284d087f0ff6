"""The repository's dev environment as a container: what `make test` needs, for the suites that run
outside the service images (pyright, the pipeline's own tests, the chart tests).

The pinned Python, the system tools the tests run for real (espeak-ng, jq, git), helm from the pinned
helm image, a venv at .venv where both pyright configurations look for it, the runtime and dev
requirements (installed before the source is added, so a code change keeps that layer), then the
product and the pipeline package installed editable, as `make venv` does.
"""

from __future__ import annotations

import dagger
from dagger import dag

from vibevoice_ci import artifacts, cluster, commands, toolchain
from vibevoice_ci.images import ImagePin

SYSTEM_TOOLS = ("espeak-ng", "jq", "git")
HELM_PATH = "/usr/local/bin/helm"
REQUIREMENTS = "/requirements"
VENV = f"{toolchain.WORKDIR}/.venv"
# Under CI=true a test whose tool is missing fails instead of skipping (tests/support/tools.py).
ENV = {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
SEARCH_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def dev_env(
    python: ImagePin, helm: ImagePin, source: dagger.Directory, pip_seed: dagger.Directory | None = None
) -> dagger.Container:
    """The dev environment with the source at toolchain.WORKDIR, ready for pytest and pyright."""
    requirements = [
        "--requirement", f"{REQUIREMENTS}/runtime.txt", "--requirement", f"{REQUIREMENTS}/extra-dev.txt",
    ]  # fmt: skip
    env = (
        artifacts.pip_cache(dag.container().from_(python.reference), pip_seed)
        .with_exec(commands.apt_install(SYSTEM_TOOLS))
        .with_file(HELM_PATH, dag.container().from_(helm.reference).file(cluster.HELM_IN_IMAGE))
        .with_exec(commands.venv(VENV))
        .with_env_variable("PATH", SEARCH_PATH)
        .with_file(f"{REQUIREMENTS}/pyproject.toml", source.file("pyproject.toml"))
        .with_file(f"{REQUIREMENTS}/generate.py", source.file(commands.REQUIREMENTS_SCRIPT))
        .with_exec(commands.requirement_files(f"{REQUIREMENTS}/generate.py", REQUIREMENTS))
        .with_exec(commands.pip_install(requirements))
        .with_directory(toolchain.WORKDIR, source)
        .with_workdir(toolchain.WORKDIR)
        .with_exec(commands.pip_install(["--no-deps", "--editable", ".", "--editable", "ci"]))
    )
    for key, value in ENV.items():
        env = env.with_env_variable(key, value)
    return env
