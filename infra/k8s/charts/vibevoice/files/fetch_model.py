"""Init container of the vibevoice chart: the model's repositories into the cache, at pinned revisions.

VIBEVOICE_FETCH_REPOS lists `repo@revision[:pattern,...]` words (the model first, then what it loads by
name, such as the processor's text tokenizer, limited to the files matching the patterns when given);
HF_HOME is the cache volume and HF_TOKEN, when set, a Hugging Face token.

A cache is complete or it is not used. Once a repository's fetch has finished, a manifest of its files and
their sizes is written last, beside the Hub's cache (`$HF_HOME/vibevoice-manifests`); a repository counts
as cached only when its manifest names the same file patterns and every file it lists is in the snapshot
with that size. Anything else (an interrupted fetch, a file gone, other patterns) is fetched again, and
huggingface_hub resumes a partly downloaded file where it stopped. Each repository's `main` ref is then
pointed at the fetched commit, so the service, which runs offline and asks for repositories by name,
loads exactly the pinned revision. Runs with `python3 -c` in the TTS image (huggingface_hub comes with
transformers); exit 0 when every repository is in the cache, else 1 with the reason.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.constants import HF_HOME, HF_HUB_CACHE

COMMIT = re.compile(r"[0-9a-f]{40}")


def repo_folder(repo: str) -> Path:
    """The Hub cache's folder of a model repository."""
    return Path(HF_HUB_CACHE) / ("models--" + repo.replace("/", "--"))


def manifest_path(repo: str, commit: str) -> Path:
    """Where the manifest of `repo` at `commit` is kept."""
    return Path(HF_HOME) / "vibevoice-manifests" / repo.replace("/", "--") / f"{commit}.json"


def snapshot_files(snapshot: Path) -> dict[str, int]:
    """Every file of a snapshot folder and its size (the snapshot's links lead to the blobs)."""
    return {
        path.relative_to(snapshot).as_posix(): path.stat().st_size
        for path in sorted(snapshot.rglob("*"))
        if path.is_file()
    }


def is_complete(repo: str, commit: str, patterns: list[str] | None) -> bool:
    """Whether the cache holds `repo` at `commit` as its manifest says, for the same file patterns."""
    try:
        manifest = json.loads(manifest_path(repo, commit).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("patterns") != patterns:
        return False
    snapshot = repo_folder(repo) / "snapshots" / commit
    for name, size in manifest.get("files", {}).items():
        try:
            if (snapshot / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return bool(manifest.get("files"))


def write_manifest(repo: str, commit: str, patterns: list[str] | None) -> int:
    """Record the fetched snapshot (written last, atomically); the number of files it lists."""
    files = snapshot_files(repo_folder(repo) / "snapshots" / commit)
    if not files:
        raise RuntimeError(f"{repo}@{commit}: no file matches {patterns}")
    path = manifest_path(repo, commit)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"repo": repo, "commit": commit, "patterns": patterns, "files": files}))
    os.replace(partial, path)
    return len(files)


def fetch(repo: str, revision: str, patterns: list[str] | None) -> str:
    """The commit of `repo` at `revision`, complete in the cache; fetched (or resumed) unless it is."""
    if COMMIT.fullmatch(revision) and is_complete(repo, revision, patterns):
        print(f"cached  {repo}@{revision}")
        return revision
    commit = Path(snapshot_download(repo, revision=revision, allow_patterns=patterns)).name
    count = write_manifest(repo, commit, patterns)
    print(f"fetched {repo}@{revision} ({count} files)")
    return commit


def pin_main(repo: str, commit: str) -> None:
    """Point the cache's `main` ref of `repo` at `commit` (what an offline load by name resolves)."""
    refs = repo_folder(repo) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(commit)


def main() -> int:
    """Fetch every repository named in VIBEVOICE_FETCH_REPOS."""
    words = os.environ.get("VIBEVOICE_FETCH_REPOS", "").split()
    if not words:
        print("FAIL VIBEVOICE_FETCH_REPOS names no repository")
        return 1
    for word in words:
        spec, _, patterns = word.partition(":")
        repo, _, revision = spec.partition("@")
        try:
            commit = fetch(repo, revision or "main", sorted(patterns.split(",")) if patterns else None)
        except Exception as error:  # any failure ends the init container, with its reason
            print(f"FAIL {repo}@{revision}: {type(error).__name__}: {error}")
            return 1
        pin_main(repo, commit)
        print(f"        {repo} main -> {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
