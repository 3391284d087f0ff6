"""What each step reads of the repository: the only files that reach its containers.

The engine runs an exec again when a file in its container changed, so a step handed the whole
repository runs again after any edit (a README fix re-ran the pipeline's own tests). Each step takes
the repository through one of these, narrowed to what it reads, and each says why it reads what it
does. ci/tests/test_step_inputs.py records every step of `ci` with the README, the chart's values and
a file of the product edited, and checks that only the steps whose inputs hold that file change. The
images' build context is not here: it is what the repository's .dockerignore lets through, read at
build time (Toolchain.build_context), as `docker build` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagger

CHART = "infra/k8s/charts/vibevoice"


@dataclass(frozen=True)
class Inputs:
    """A step's view of the repository: the paths it reads (`include`; none: all), less `exclude`
    (Dagger's `Directory.filter` patterns), and why it reads them."""

    name: str
    why: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def of(self, repository: dagger.Directory) -> dagger.Directory:
        """The repository as this step sees it."""
        return repository.filter(include=list(self.include), exclude=list(self.exclude))


DECLARATIONS = Inputs(
    "the dependency declarations",
    "every install reads these alone: pyproject.toml's requirement groups, written out as requirement "
    "files by the script the Dockerfiles run too, so a code change keeps every install",
    include=("pyproject.toml", "scripts/pyproject-requirements.py"),
)
MODULE = Inputs(
    "the pipeline's package",
    "installed editable into the dev environment before anything else is added: its entry point is "
    "what the engine loads, and ci/tests check it",
    include=("ci/pyproject.toml", "ci/src"),
)
_PYTHON = ("**/*.py", "**/py.typed", "pyproject.toml", "ci/pyproject.toml")
LINT = Inputs(
    "the code and its linters' settings",
    "ruff reads the Python files and its settings in pyproject.toml; shellcheck the shell scripts",
    include=(*_PYTHON, "scripts/*.sh", ".ci/run"),
)
TYPECHECK = Inputs(
    "the code and pyright's settings",
    "pyright reads the Python files of both projects (the product's and the pipeline's) and their "
    "settings in each pyproject.toml",
    include=_PYTHON,
)
PIPELINE_TESTS = Inputs(
    "the repository",
    "ci/tests record every function of the module against the stand-in engine, which reads every file "
    "a step reads (the product, the chart, the Dockerfiles, the README) to key its execs as the engine "
    "would: the pipeline's tests read the whole repository",
)
CHART_TESTS = Inputs(
    "the chart and its tests",
    "tests/chart render the chart and check it with helm, against the product's settings and metrics, "
    "and run the chart's helm test script against the real services (installed from src/: their "
    "metadata reads the README); scripts/fetch-helm.py is tested there too",
    include=(
        CHART,
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/support",
        "tests/chart",
        "pyproject.toml",
        "README.md",
        "scripts/fetch-helm.py",
        "src",
    ),
)
REPOSITORY_TESTS = Inputs(
    "the repository but the chart",
    "tests/test_scripts.py finds each script's user anywhere in the repository (the README, the "
    "Makefile, the workflows, the Dockerfiles, the module); the soak runs the product, installed from "
    "src/ (its metadata reads the README)",
    exclude=(CHART,),
)
EVERYTHING = Inputs("the repository", "a developer's shell in the dev environment (`suite env`)")
