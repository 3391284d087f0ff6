"""What particular functions did, read from the recording (conftest.py), where a property of one
function is worth a test of its own: the release's signatures and its CUDA image, the test report.
"""

from __future__ import annotations

from recording_engine.harness import SHA, VALUES
from recording_engine.objects import Exec
from recording_engine.recording import Recording
from vibevoice_ci.release import cosign


def execs(recording: Recording, path: str, *prefix: str) -> list[Exec]:
    return [run for run in recording.calls[path].execs if run.argv[: len(prefix)] == prefix]


def test_every_signature_carries_the_commit_the_run_and_the_build_matrix(recording: Recording) -> None:
    signatures = execs(recording, "release run", "cosign", "sign")
    assert signatures, "release run signed nothing"
    for run in signatures:
        annotations = dict(run.argv[i + 1].split("=", 1) for i, arg in enumerate(run.argv) if arg == "-a")
        prefix = cosign.ANNOTATION_PREFIX
        assert annotations[prefix + "git-sha"] == SHA
        assert annotations[prefix + "workflow-run-id"] == VALUES["run_id"]
        assert annotations[prefix + "platforms"] == "linux/amd64;linux/arm64"
        assert annotations[prefix + "build-matrix"].split(";") == [
            "tts:cpu:linux/amd64", "tts:cpu:linux/arm64",
            "agent:agent:linux/amd64", "agent:agent:linux/arm64",
            "tts:cuda:linux/amd64",
        ]  # fmt: skip


def test_a_release_tag_builds_publishes_and_signs_the_cuda_image_for_amd64_only(recording: Recording) -> None:
    call = recording.calls["release run"]
    assert VALUES["ref"] == "refs/tags/v1.2.3"
    assert {build.platform for build in call.builds if build.target == "cuda"} == {"linux/amd64"}
    cuda = [publish for publish in call.publishes if ":1.2.3-cuda" in publish.address]
    assert [publish.platforms for publish in cuda] == [("linux/amd64",)]
    signed = {run.argv[-1] for run in execs(recording, "release run", "cosign", "sign")}
    assert {cosign.by_digest(publish.published) for publish in cuda} <= signed
    # it needs a GPU to smoke, so its tests run before it is published, in its test stage
    assert "test-cuda" in {build.target for build in call.builds}


def test_the_test_report_is_kept_whatever_the_tests_say_and_the_test_check_fails_with_them(
    recording: Recording,
) -> None:
    [report] = execs(recording, "test_report", "python3", "-m", "pytest")
    [check] = execs(recording, "test", "python3", "-m", "pytest")
    assert (report.expect, check.expect) == ("ANY", "SUCCESS")
