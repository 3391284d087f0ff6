"""cosign's container: the pinned cosign as root (to read the secrets mounted 0400), its environment,
logged into the registry, and the signer's identity when it signs.

Every cosign step carries the time of the call: the engine replays an exec whose inputs did not
change, and a signature, an attestation or a verification is of the registry as it is now.
"""

from __future__ import annotations

import dagger
from dagger import dag

from vibevoice_ci.core.pins import ImagePin
from vibevoice_ci.core.toolchain import CACHE_BUSTER
from vibevoice_ci.release.cosign import DOCKER_CONFIG_DIR
from vibevoice_ci.release.identity import Signer


def cosign_env(
    pin: ImagePin,
    signer: Signer,
    *,
    fresh: str,
    registry_auth: dagger.Secret | None = None,
    signs: bool = True,
) -> dagger.Container:
    """cosign, logged in if `registry_auth` is given, with the signer's identity if it `signs`."""
    container = dag.container().from_(pin.reference).with_user("0")
    for name, value in sorted({**signer.environment(), CACHE_BUSTER: fresh}.items()):
        container = container.with_env_variable(name, value)
    if registry_auth is not None:
        container = container.with_env_variable("DOCKER_CONFIG", DOCKER_CONFIG_DIR).with_mounted_secret(
            f"{DOCKER_CONFIG_DIR}/config.json", registry_auth
        )
    return signer.apply(container) if signs else container
