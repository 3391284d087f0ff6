"""The supply-chain containers, read from their lazily built queries (see dagger_query.py), and the
tool image pins the module reads.

They check the wiring no engine is needed for: the pinned images, the Trivy cache and its sharing,
the image going in as a tarball, the order of the command lines, that a failing pip-audit or gate
does not end the chain before its report is kept, and that every secret travels as a secret (a
mounted file or a secret variable), never in an argument list.
"""

# The tests call the wiring helpers the async functions are built from.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import anyio
import dagger
import pytest
from dagger import dag
from dagger_query import args_of, chain, execs, fields, only
from vibevoice_ci import artifacts, audit, commands, cosign, images, scanning, supply_chain, trivy

from tests.support.tools import ROOT

SOURCE = dag.directory().with_new_file("marker", "the repository")
PINS = {
    tool: images.parse_pin(tool, (ROOT / images.pin_path(tool)).read_text(encoding="utf-8"))
    for tool in images.TOOLS
}
TOOLS = ["pip-audit==2.10.1", "cvss==3.6"]


# -- the pins ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", images.TOOLS)
def test_every_tool_image_is_pinned_by_a_well_formed_digest(tool: str) -> None:
    text = (ROOT / images.pin_path(tool)).read_text(encoding="utf-8")
    pin = images.parse_pin(tool, text)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin.digest)
    assert pin.reference == f"{pin.repository}:{pin.tag}@{pin.digest}"
    assert "Digest" in text or "digest" in text, "say where the digest came from"


def test_the_tool_folders_are_exactly_the_known_tools() -> None:
    folders = {path.name for path in (ROOT / images.IMAGES_DIR).iterdir() if path.is_dir()}
    assert folders == set(images.TOOLS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM python:3.12-slim\n", "not pinned"),
        ("FROM python@sha256:" + "a" * 64 + "\n", "not pinned"),  # a digest without the tag it stands for
        ("FROM python:3.12-slim@sha256:abc\n", "not pinned"),
        ("# no image\n", "exactly one FROM line, found 0"),
        ("FROM a:1@sha256:" + "a" * 64 + "\nFROM b:2@sha256:" + "b" * 64 + "\n", "found 2"),
    ],
)
def test_an_unpinned_tool_image_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        images.parse_pin("python", text)


class RepositoryFiles:
    """Stands in for the module's source Directory: `file(path).contents()` reads the repository."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def file(self, path: str) -> RepositoryFiles.File:
        self.read.append(path)
        return RepositoryFiles.File(ROOT / path)

    class File:
        def __init__(self, path: Path) -> None:
            self.path = path

        async def contents(self) -> str:
            return self.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("tool", images.TOOLS)
def test_the_module_reads_each_pin_from_its_dockerfile(tool: str) -> None:
    files = RepositoryFiles()
    pin = anyio.run(artifacts.tool_image, files, tool)  # type: ignore[arg-type]
    assert files.read == [f"ci/images/{tool}/Dockerfile"]
    assert pin == PINS[tool]


# -- the audit ----------------------------------------------------------------------------------------------


def test_the_gate_env_installs_its_tools_before_adding_the_module_code() -> None:
    env = supply_chain.gate_env(PINS["python"], SOURCE, TOOLS)
    assert only(env, "from") == {"address": PINS["python"].reference}
    assert execs(env) == [commands.pip_install(TOOLS)]
    order = fields(env)
    assert order.index("withExec") < order.index("withDirectory")
    assert only(env, "withDirectory")["path"] == supply_chain.GATE_CODE
    assert {args["name"]: args["value"] for args in args_of(env, "withEnvVariable")} == {
        "PYTHONPATH": supply_chain.GATE_CODE
    }
    assert only(env, "withFile")["path"] == "/work/security/allowlist.toml"


def test_the_audit_exports_audits_and_keeps_the_report_whatever_pip_audit_says() -> None:
    env = supply_chain.gate_env(PINS["python"], SOURCE, TOOLS)
    audited = supply_chain.audited(env, PINS["uv"], SOURCE, osv_url="https://osv.example", fresh="t1")
    runs = execs(audited)[1:]
    assert runs == [
        ["mkdir", "-p", "/reports"],
        audit.export_requirements(),
        audit.pip_audit(osv_url="https://osv.example"),
    ]
    pip_audit = args_of(audited, "withExec")[-1]
    assert (pip_audit["expect"], pip_audit["redirectStderr"]) == ("ANY", audit.PIP_AUDIT_LOG)
    uv = [args for args in args_of(audited, "withFile") if args["path"] == "/usr/local/bin/uv"]
    assert only(uv[0]["source"], "from") == {"address": PINS["uv"].reference}


def test_the_gate_keeps_its_verdict_and_its_exit_code() -> None:
    gate = supply_chain.gated(dag.container(), ["python3", "-m", "vibevoice_ci", "gate"], "/reports/v.txt")
    assert only(gate, "withExec") == {
        "args": ["python3", "-m", "vibevoice_ci", "gate"],
        "expect": "ANY",
        "redirectStdout": "/reports/v.txt",
        # a gate that cannot decide says why on stderr: kept, for the check's message (found on an engine)
        "redirectStderr": "/reports/v.txt.errors",
    }


# -- the scan and the SBOMs -------------------------------------------------------------------------


def test_trivy_runs_pinned_with_a_locked_database_cache() -> None:
    env = supply_chain.trivy_env(PINS["trivy"])
    assert only(env, "from") == {"address": PINS["trivy"].reference}
    cache = only(env, "withMountedCache")
    assert (cache["path"], cache["sharing"]) == (trivy.CACHE_DIR, "LOCKED")
    assert only(cache["cache"], "cacheVolume") == {"key": trivy.CACHE_VOLUME}


def test_the_scan_reads_the_image_tarball_and_converts_its_one_json() -> None:
    image = dag.container().from_("example/image:1")
    reports = supply_chain.scanned(
        PINS["trivy"], image, db_repository="mirror.example/trivy-db:2", fresh="t1"
    )
    tarball = only(reports, "withFile")
    assert tarball["path"] == trivy.IMAGE_TARBALL
    assert chain(tarball["source"])[-1].field == "asTarball"
    assert chain(tarball["source"])[: len(chain(image))] == chain(image)
    assert execs(reports)[1:] == [
        trivy.scan(db_repository="mirror.example/trivy-db:2"),
        *(trivy.convert(conversion) for conversion in trivy.CONVERSIONS),
    ]
    assert chain(reports)[-1].args == {"path": trivy.REPORTS}


def test_sboms_in_both_formats() -> None:
    sboms = supply_chain.sboms(PINS["trivy"], dag.container().from_("example/image:1"))
    assert execs(sboms)[1:] == [trivy.sbom(sbom_format) for sbom_format in trivy.SBOM_FORMATS]


def test_the_trivy_gate_runs_on_the_reports_with_the_allowlist() -> None:
    gate = supply_chain.trivy_gated(dag.container(), dag.directory(), "CRITICAL,HIGH")
    assert only(gate, "withExec")["args"] == trivy.gate_trivy(
        severities="CRITICAL,HIGH", allowlist="/work/security/allowlist.toml"
    )


# -- never stale: a second call scans and audits anew ----------------------------------------------------


def buster_before(container: dagger.Container | dagger.Directory, argv: list[str]) -> str:
    """The cache buster set before the exec of `argv` (its position in the chain matters)."""
    order = chain(container)
    run = next(i for i, call in enumerate(order) if call.field == "withExec" and call.args["args"] == argv)
    set_at = [
        i
        for i, call in enumerate(order[:run])
        if call.field == "withEnvVariable" and call.args["name"] == supply_chain.CACHE_BUSTER
    ]
    assert set_at, f"no {supply_chain.CACHE_BUSTER} before {argv[:2]}"
    return str(order[set_at[-1]].args["value"])


def two_calls() -> tuple[scanning.Scanner, scanning.Scanner]:
    """The scanners of two calls, as each supply-chain function builds its own (pins read from the
    repository, then the source a lazy Directory)."""
    first, second = (anyio.run(scanning.scanner, RepositoryFiles()) for _ in range(2))  # type: ignore[arg-type]
    return replace(first, source=SOURCE), replace(second, source=SOURCE)


def test_a_second_call_scans_again_but_one_call_scans_each_image_once() -> None:
    image = dag.container().from_("example/image:1")
    first, second = two_calls()
    scan = trivy.scan(db_repository="")

    def scanned(scanner: scanning.Scanner) -> dagger.Directory:
        """The scan's reports, as the gate container receives them."""
        (reports,) = [
            a["source"]
            for a in args_of(scanner.reports(image), "withDirectory")
            if a["path"] == trivy.REPORTS
        ]
        return reports

    assert buster_before(scanned(first), scan) != buster_before(scanned(second), scan)
    # within one call the gate's scan and the evidence's are the same query: one exec in the engine
    assert chain(first.reports(image)) == chain(first.reports(image))


def test_a_second_call_audits_again() -> None:
    first, second = two_calls()
    run = audit.pip_audit(osv_url="https://osv.example")
    assert buster_before(first.audited("https://osv.example", "low"), run) != buster_before(
        second.audited("https://osv.example", "low"), run
    )
    # the dependency export before it does not depend on the time: it stays cached
    order = fields(first.audited("https://osv.example", "low"))
    assert order.index("withEnvVariable", order.index("withFile")) > 0


# -- cosign -------------------------------------------------------------------------------------------------


def secret_values(container: dagger.Container) -> list[str]:
    """Every string argument of every call in `container`'s query: where a secret must never be."""
    return [str(value) for call in chain(container) for value in call.args.values() if isinstance(value, str)]


def test_keyless_with_github_token_requests_passes_both_as_secret_variables() -> None:
    token, url = dag.set_secret("request-token", "tok-123"), dag.set_secret("request-url", "https://x/?t=1")
    env = supply_chain.cosign_env(
        PINS["cosign"], supply_chain.Signer(oidc_request_token=token, oidc_request_url=url)
    )
    assert {args["name"]: args["secret"] for args in args_of(env, "withSecretVariable")} == {
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": token,
        "ACTIONS_ID_TOKEN_REQUEST_URL": url,
    }
    assert not any("tok-123" in value for value in secret_values(env))


def test_keyless_with_a_token_uses_sigstore_id_token() -> None:
    token = dag.set_secret("id-token", "eyJ.header.payload")
    env = supply_chain.cosign_env(PINS["cosign"], supply_chain.Signer(id_token=token))
    assert only(env, "withSecretVariable") == {"name": "SIGSTORE_ID_TOKEN", "secret": token}


def test_a_key_is_a_mounted_secret_and_its_password_a_secret_variable() -> None:
    key, password = dag.set_secret("key", "-----BEGIN-----"), dag.set_secret("key-password", "pw")
    auth = dag.set_secret("docker-config", "{}")
    env = supply_chain.cosign_env(PINS["cosign"], supply_chain.Signer(key=key, key_password=password), auth)
    mounts = {args["path"]: args["source"] for args in args_of(env, "withMountedSecret")}
    assert mounts == {f"{cosign.DOCKER_CONFIG_DIR}/config.json": auth, cosign.KEY_PATH: key}
    assert only(env, "withSecretVariable") == {"name": "COSIGN_PASSWORD", "secret": password}
    assert only(env, "withUser") == {"name": "0"}  # reads the 0400 secret mounts
    assert only(env, "from") == {"address": PINS["cosign"].reference}


def test_without_the_transparency_log_cosign_signs_and_verifies_with_a_key_and_no_network() -> None:
    # Found on an offline engine: cosign v3 fetched Sigstore's signing config even to sign with a key.
    key = dag.set_secret("offline-key", "-----BEGIN-----")
    env = supply_chain.cosign_env(PINS["cosign"], supply_chain.Signer(key=key), tlog=False)
    variables = {args["name"]: args["value"] for args in args_of(env, "withEnvVariable")}
    assert cosign.NO_TLOG_ENV.items() <= variables.items()
    verifier = supply_chain.cosign_env(PINS["cosign"], tlog=False)  # verify: no signer
    assert "COSIGN_INSECURE_IGNORE_TLOG" in {args["name"] for args in args_of(verifier, "withEnvVariable")}
    assert "COSIGN_TLOG_UPLOAD" not in {
        args["name"] for args in args_of(supply_chain.cosign_env(PINS["cosign"]), "withEnvVariable")
    }
    with pytest.raises(ValueError, match="goes with --key"):
        supply_chain.cosign_env(PINS["cosign"], supply_chain.Signer(id_token=key), tlog=False)


@pytest.mark.parametrize(
    ("signer", "message"),
    [
        ({}, "exactly one of"),
        ({"key": "k", "id_token": "t"}, "exactly one of"),
        ({"oidc_request_token": "t"}, "needs both"),
        ({"id_token": "t", "key_password": "p"}, "--key-password without --key"),
    ],
)
def test_the_signing_identity_must_be_exactly_one(signer: dict[str, str], message: str) -> None:
    secrets = {name: dag.set_secret(name, value) for name, value in signer.items()}
    with pytest.raises(ValueError, match=message):
        supply_chain.Signer(**secrets).check()
