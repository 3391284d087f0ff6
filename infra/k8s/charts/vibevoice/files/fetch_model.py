"""Init container of the vibevoice chart: the model's repositories into the cache, at pinned revisions.

VIBEVOICE_FETCH_REPOS lists `repo@revision[:pattern,...]` words (the model first, then what it loads by
name, such as the processor's text tokenizer, limited to the files matching the patterns when given);
HF_HOME is the cache volume and HF_TOKEN, when set, a Hugging Face token.
A repository the cache already holds at that revision is not fetched again. Each repository's `main` ref
is then pointed at the fetched commit, so the service, which runs offline and asks for repositories by
name, loads exactly the pinned revision. Runs with `python3 -c` in the TTS image (huggingface_hub comes
with transformers); exit 0 when every repository is in the cache, else 1 with the reason.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.constants import HF_HUB_CACHE
from huggingface_hub.errors import LocalEntryNotFoundError


def fetch(repo: str, revision: str, patterns: list[str] | None) -> str:
    """The commit of `repo` at `revision` in the cache, downloaded only when it is not there yet."""
    try:
        path = snapshot_download(repo, revision=revision, allow_patterns=patterns, local_files_only=True)
        print(f"cached  {repo}@{revision}")
    except LocalEntryNotFoundError:
        path = snapshot_download(repo, revision=revision, allow_patterns=patterns)
        print(f"fetched {repo}@{revision}")
    return Path(path).name


def pin_main(repo: str, commit: str) -> None:
    """Point the cache's `main` ref of `repo` at `commit` (what an offline load by name resolves)."""
    refs = Path(HF_HUB_CACHE) / ("models--" + repo.replace("/", "--")) / "refs"
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
            commit = fetch(repo, revision or "main", patterns.split(",") if patterns else None)
        except Exception as error:  # any failure ends the init container, with its reason
            print(f"FAIL {repo}@{revision}: {type(error).__name__}: {error}")
            return 1
        pin_main(repo, commit)
        print(f"        {repo} main -> {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
