"""Properties of every function at once, read from what the stand-in engine recorded.

Every function the module registers has been run (conftest.py's `recording`: air-gapped mode, every
registry, download and advisory source mirrored) the way `dagger call` runs it. The tests here say
what must hold for all of them, so a new function, or a new step in an old one, is held to the same
rules without a test of its own: no image, download or advisory from upstream when mirrors are
given; no secret in an argument list or a plain variable; nothing that must run again served from a
cache; every exec as the user it should run as; each step's inputs no wider than it needs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import AIR_GAPPED, DOWNLOAD_MIRROR, MIRROR, OSV_MIRROR, TRIVY_DB_MIRROR
from recording_engine.harness import VALUES, record
from recording_engine.objects import Exec
from recording_engine.recording import Call, Recording
from vibevoice_ci.images.check_scripts import leftovers

# Where a user's own images are: the registry a release publishes to (and attests from).
OWN_REGISTRY = str(VALUES["registry"])
# What must run anew at every call: results that depend on advisories, signatures, a registry, a GPU
# or a measurement as they are now. The engine replays an exec whose inputs did not change even when
# the function's cache is off, so each of these needs an input of its own that changes per call.
MUST_RUN_AGAIN = {
    ("pip-audit",): "the audit",
    ("trivy", "image"): "a scan or an SBOM",
    ("cosign", "sign"): "a signature",
    ("cosign", "attest"): "an attestation",
    ("cosign", "verify"): "a verification",
    ("cosign", "verify-attestation"): "a verification",
    ("python3", "-m", "vibevoice_ci", "gate"): "a gate (it asks OSV for severities)",
    ("vibevoice-bench", "run"): "a measurement",
    ("vibevoice-bench", "report"): "a report posted to GitHub",
}
GATE = ("python3", "-m", "vibevoice_ci", "gate")
# Tools whose exit status means "found something" as much as "broke": a gate reads their report.
JUDGED_BY_A_GATE = (("pip-audit",), ("vibevoice-bench", "compare"), GATE)
ROOT_USER = "0"
PRODUCT_USER = "10001:10001"  # the Dockerfiles' USER
# The dependency declarations an install may read; anything else there would reinstall on any edit.
DECLARATIONS = {"pyproject.toml", "scripts/pyproject-requirements.py"}


def must_run_again(run: Exec) -> str:
    """Why an exec must run at every call, or "" for one the engine may replay."""
    for prefix, kind in MUST_RUN_AGAIN.items():
        if run.argv[: len(prefix)] == prefix:
            return kind
    if run.argv[:1] == ("vibevoice-smoke",) and "--wait" in run.argv:
        return "the GPU smoke (the model on the GPU as it is now)"
    return ""


def flag(run: Exec, name: str) -> str:
    return run.argv[run.argv.index(name) + 1] if name in run.argv[:-1] else ""


def failures(recording: Recording) -> Iterator[str]:
    for path, call in recording.calls.items():
        if call.error:
            yield f"{path or 'the constructor'}:\n{call.error}"


def test_every_function_runs_to_completion(recording: Recording) -> None:
    # Through the SDK's own registration and invocation, each object's state round-tripped as JSON.
    assert not list(failures(recording)), "\n\n".join(failures(recording))
    objects = recording.registration.objects
    main = objects[recording.registration.main]
    every = {name for name in main if name} | {
        f"{name} {member}"
        for name, function in main.items()
        if name
        for member in objects.get(function.returns, {})
        if member
    }
    assert set(recording.calls) == every
    # and every object is reached from the main one, so none of its functions goes unrun
    reached = {function.returns for function in main.values()}
    assert set(objects) == {recording.registration.main} | (reached & set(objects))


def test_no_function_pulls_or_downloads_from_upstream_when_mirrors_are_given(recording: Recording) -> None:
    allowed = (f"{MIRROR}/", f"{OWN_REGISTRY}/")
    upstream = {
        path: sorted({image for image in call.images if not image.startswith(allowed)})
        + sorted({url for url in call.downloads if not url.startswith(DOWNLOAD_MIRROR)})
        for path, call in recording.calls.items()
    }
    assert {path: found for path, found in upstream.items() if found} == {}


def test_the_advisories_come_from_the_mirrors_given_to_the_module(recording: Recording) -> None:
    # Found on an offline engine: `dagger check` passes no arguments, so the audit asked the public
    # OSV API and the scan the default Trivy database unless the module's own flags reached them.
    wrong: set[str] = set()
    for path, call in recording.calls.items():
        for run in call.execs:
            audits = run.argv[:1] == ("pip-audit",) or run.argv[:5] == (*GATE, "pip-audit")
            if audits and not flag(run, "--osv-url").startswith(OSV_MIRROR):
                wrong.add(f"{path}: {run.argv[0]} asks {flag(run, '--osv-url')!r}")
            scans = run.argv[:2] == ("trivy", "image") and "--scanners" in run.argv
            if scans and flag(run, "--db-repository") != TRIVY_DB_MIRROR:
                wrong.add(f"{path}: trivy's database from {flag(run, '--db-repository') or 'upstream'}")
    assert wrong == set()


def test_no_secret_reaches_an_argument_list_a_plain_variable_or_a_build_argument(
    recording: Recording,
) -> None:
    plaintexts = [value for value in recording.secrets.values() if len(value) >= 8]
    leaks: list[str] = []
    for path, call in recording.calls.items():
        for run in call.execs:
            visible = [*run.argv, *run.env.values()]
            leaks += [f"{path}: {run.argv[0]}" for text in visible for secret in plaintexts if secret in text]
        for build in call.builds:
            values = build.build_args.values()
            leaks += [
                f"{path}: build {build.target}"
                for value in values
                for secret in plaintexts
                if secret in value
            ]
    assert leaks == []


def acting_now(recording: Recording) -> dict[str, Call]:
    """The calls whose result depends on the world as it is now, or that act on it."""
    return {
        path: call
        for path, call in recording.calls.items()
        if any(must_run_again(run) for run in call.execs) or call.publishes or call.started
    }


def test_what_acts_on_the_world_now_is_never_served_from_the_function_cache(recording: Recording) -> None:
    found = acting_now(recording)
    assert {"supply_chain audit", "supply_chain scan", "release run", "publish", "bench"} <= set(found)
    assert {path: call.function.cache for path, call in found.items() if call.function.cache != "Never"} == {}


@pytest.fixture(scope="module")
def second_call(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """The calls that act on the world now, and every function the engine never caches, again."""
    never = {path for path, call in recording.calls.items() if call.function.cache == "Never"}
    wanted = set(acting_now(recording)) | never
    return record(AIR_GAPPED, only=wanted.__contains__, log_dir=tmp_path_factory.mktemp("again"))


def test_a_second_call_runs_again_what_must_run_again(recording: Recording, second_call: Recording) -> None:
    # Found on an engine: the function's cache was off, yet an unchanged exec served yesterday's audit.
    replayed: dict[str, list[str]] = {}
    for path, call in second_call.calls.items():
        before = {run.key for run in recording.calls[path].execs if must_run_again(run)}
        again = [run for run in call.execs if must_run_again(run) and run.key in before]
        if again:
            replayed[path] = sorted({" ".join(run.argv[:2]) for run in again})
    assert replayed == {}


def test_a_function_never_cached_never_returns_what_a_previous_call_made(
    recording: Recording, second_call: Recording
) -> None:
    # A snapshot of a cache, a measurement, evidence: each is of this call (the pip cache's snapshot
    # was once the first call's copy, served again).
    objects = ("Container", "Directory", "File")
    same = [
        path
        for path, call in second_call.calls.items()
        if call.function.cache == "Never" and call.function.returns in objects
        if call.result == recording.calls[path].result
    ]
    assert same == []


def test_every_exec_runs_as_the_user_it_should(recording: Recording) -> None:
    # Where the module names a user, it is root, and only for these: cosign reads the secrets mounted
    # 0400 (its image's own user is nonroot), and the leftovers check searches every directory.
    as_root = {("cosign",), tuple(leftovers())}
    wrong: set[str] = set()
    for path, call in recording.calls.items():
        for run in call.execs:
            named = run.argv[:1] in as_root or run.argv in as_root
            if run.user is not None and not (run.user == ROOT_USER and named):
                wrong.add(f"{path}: {run.argv[0]} as {run.user!r}")
            elif named and run.runs_as != ROOT_USER:
                wrong.add(f"{path}: {run.argv[0]} as {run.runs_as!r}, not root")
            elif run.image.kind == "built" and not named and run.runs_as != PRODUCT_USER:
                wrong.add(f"{path}: {run.argv[:3]} in {run.image.target} as {run.runs_as!r}")
    assert wrong == set()


def test_a_tool_judged_by_a_gate_leaves_its_report_whatever_it_exits_with(recording: Recording) -> None:
    # Found on an engine: a gate that could not decide said why on stderr, and the check's message
    # was empty; every gate keeps its verdict and its errors beside it.
    wrong: set[str] = set()
    for path, call in recording.calls.items():
        for run in call.execs:
            if any(run.argv[: len(prefix)] == prefix for prefix in JUDGED_BY_A_GATE) and run.expect != "ANY":
                wrong.add(f"{path}: {' '.join(run.argv[:2])} ends the chain when it reports a finding")
            if run.argv[: len(GATE)] == GATE and not all(run.redirects):
                wrong.add(f"{path}: a gate whose verdict or errors are lost")
    assert wrong == set()


def test_the_checks_and_services_run_on_the_engines_own_platform(recording: Recording) -> None:
    # An arm64 laptop tests, smokes and serves natively; only images, publishing, the scans of every
    # platform and the CUDA image (amd64 only) build for a platform by name.
    checks = {
        path
        for path, call in recording.calls.items()
        if call.function.check or call.function.returns == "Service"
    }
    named = {
        path: sorted({build.platform for build in recording.calls[path].builds if build.platform})
        for path in checks
        if "scan" not in path
    }
    assert {path: platforms for path, platforms in named.items() if platforms} == {}


def test_dependency_installs_read_nothing_but_the_dependency_declarations(recording: Recording) -> None:
    # A code change must keep every install layer: the requirements go in before the source does.
    wide: dict[str, set[str]] = {}
    for path, call in recording.calls.items():
        for run in call.execs:
            installs = run.argv[:4] == ("python3", "-m", "pip", "install") and "--editable" not in run.argv
            if installs and not run.reads <= DECLARATIONS:
                wide.setdefault(path, set()).update(sorted(run.reads - DECLARATIONS)[:3])
    assert wide == {}


def test_each_cache_volume_is_shared_one_way_and_the_trivy_database_one_writer_at_a_time(
    recording: Recording,
) -> None:
    sharing: dict[str, set[str]] = {}
    for _, run in recording.execs():
        for mount in run.mounts.values():
            if mount.startswith("cache:"):
                _, volume, mode = mount.split(":")
                sharing.setdefault(volume, set()).add(mode)
    assert all(len(modes) == 1 for modes in sharing.values()), sharing
    assert sharing["vibevoice-trivy"] == {"LOCKED"}


def test_every_gate_reads_the_repositorys_allowlist(recording: Recording) -> None:
    gates = [run for _, run in recording.execs() if run.argv[: len(GATE)] == GATE]
    assert gates
    assert {flag(run, "--allowlist") for run in gates} == {"/work/security/allowlist.toml"}
    assert all("/work/security/allowlist.toml" in run.inputs for run in gates)


def test_one_call_scans_each_image_once(recording: Recording) -> None:
    # The gate's scan and the evidence's are one exec: a release scans each variant once.
    twice: dict[str, int] = {}
    for path, call in recording.calls.items():
        tarballs = [
            run.inputs["/work/image.tar"]
            for run in call.execs
            if run.argv[:2] == ("trivy", "image") and "--scanners" in run.argv
        ]
        if len(tarballs) != len(set(tarballs)):
            twice[path] = len(tarballs) - len(set(tarballs))
    assert twice == {}


def test_ci_runs_every_check_but_the_supply_chains(recording: Recording) -> None:
    # `dagger call ci` checks what `make test` does; the audit and the scans are security.yml's.
    ran = {run.key for run in recording.calls["ci"].execs}
    missing = [
        call.path
        for call in recording.calls.values()
        if call.function.check and not call.path.startswith("supply_chain ")
        if not {run.key for run in call.execs} <= ran
    ]
    assert missing == []
