"""What the stand-in engine answers for the commands the module reads back: plausible outputs.

Nothing runs. A command whose output the module parses gets an answer of the shape the real tool
gives (git's commit time, `id -u`, cosign's verification JSON, the benchmark's files), so every
function can run to its end; any other command succeeds silently.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

COMMIT_TIME = "2024-05-01T12:00:00+02:00"
RUNTIME_UID = "10001"


@dataclass(frozen=True)
class Outcome:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    writes: dict[str, str] = field(default_factory=dict[str, str])


def _flag(argv: Sequence[str], name: str) -> str:
    return argv[argv.index(name) + 1] if name in argv[:-1] else ""


def _cosign(argv: Sequence[str]) -> Outcome:
    reference = argv[-1]
    name, _, digest = reference.partition("@sha256:")
    if argv[1] == "verify":
        signature = {
            "critical": {"image": {"docker-manifest-digest": f"sha256:{digest}"}},
            "optional": {
                "Subject": "release workflow",
                "Issuer": "https://token.actions.githubusercontent.com",
            },
        }
        return Outcome(stdout=json.dumps([signature]))
    if argv[1] == "verify-attestation":
        statement = {
            "predicateType": _flag(argv, "--type"),
            "subject": [{"name": name, "digest": {"sha256": digest}}],
        }
        payload = base64.b64encode(json.dumps(statement).encode()).decode()
        return Outcome(stdout=json.dumps({"payload": payload}) + "\n")
    return Outcome()


def _bench(argv: Sequence[str]) -> Outcome:
    out = _flag(argv, "--out")
    if argv[1] == "run":
        return Outcome(writes={f"{out}/results.json": "{}", f"{out}/requests.jsonl": ""})
    if argv[1] == "compare":
        written = {"comparison.json": '{"verdict": "pass"}', "summary.md": "# ttfa_ms: pass\n"}
        written |= {"baseline.json": "{}", "history.json": "[]"}
        return Outcome(writes={f"{out}/{name}": text for name, text in written.items()})
    if argv[1] == "report":
        return Outcome(stderr="reported\n")
    return Outcome()


def outcome(argv: Sequence[str]) -> Outcome:
    """What running `argv` would print, exit with and write."""
    if not argv:
        return Outcome()
    tool = argv[0].rsplit("/", 1)[-1]
    if tool == "git" and "log" in argv:
        return Outcome(stdout=COMMIT_TIME + "\n")
    if list(argv) == ["id", "-u"]:
        return Outcome(stdout=RUNTIME_UID + "\n")
    if tool == "cosign" and len(argv) > 1:
        return _cosign(argv)
    if tool == "vibevoice-bench" and len(argv) > 1:
        return _bench(argv)
    return Outcome()
