"""The recordings the pipeline's own tests share: every function run through the stand-in engine.

Recording takes a minute or so (each function is a real call of the module's runtime), so each
recording is made once per session and read by every test that states a property over it.
"""

from __future__ import annotations

import pytest
from recording_engine.harness import Settings, record
from recording_engine.recording import Recording
from vibevoice_ci.core.pins import TOOLS, parse_pin, pin_path
from vibevoice_ci.core.redirects import BASES, DOWNLOADS, split

from tests.support.tools import ROOT

MIRROR = "mirror.test:5000"
DOWNLOAD_MIRROR = "https://downloads.mirror.test"
OSV_MIRROR = "https://osv.mirror.test"
TRIVY_DB_MIRROR = f"{MIRROR}/aquasecurity/trivy-db:2"


def registries() -> set[str]:
    """Every registry the module's pinned images come from: the tool pins and the Dockerfiles' bases."""
    pins = [parse_pin(tool, (ROOT / pin_path(tool)).read_text(encoding="utf-8")).pinned for tool in TOOLS]
    return {split(reference)[0] for reference in (*pins, *(default for _, default in BASES.values()))}


# Air-gapped mode as a user behind a firewall runs it: every registry, download and advisory source
# mirrored.
AIR_GAPPED = Settings(
    constructor={
        "mirror": [f"{host}={MIRROR}/{host}" for host in sorted(registries())],
        "download": [f"{name}={DOWNLOAD_MIRROR}/{name}" for name in DOWNLOADS],
        "osv_url": OSV_MIRROR,
        "trivy_db_repository": TRIVY_DB_MIRROR,
    }
)


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Every function of the module, run once in air-gapped mode."""
    return record(AIR_GAPPED, log_dir=tmp_path_factory.mktemp("recording"))
