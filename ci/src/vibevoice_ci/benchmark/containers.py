"""The containers of the benchmark's steps: the load generator's client, and the report's.

Wiring only: which image, which services under which aliases, which files where, which command lines
(from bench) in which order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagger
from dagger import dag

from vibevoice_ci.benchmark import bench


def bench_client(
    image: dagger.Container,
    services: Mapping[str, dagger.Service],
    *,
    scenarios: Sequence[bench.Scenario],
    load: bench.Load,
    last: dagger.Directory | None,
    policy: dagger.File | None,
    sha: str,
    run_id: str,
    ready: Sequence[str] = (),
) -> dagger.Container:
    """`image` (it carries vibevoice-bench) bound to the services, running then gating each scenario.

    The scenarios run one after another, never at once, so one does not load the machine under
    another. A regression does not stop the chain (`compare` exits 1, expected): its comparison is
    the result; a run that cannot start at all (exit 2) fails the call. `ready`, if given, runs first:
    a command that waits for services that are up long before they can answer (a model loading).
    """
    client = image
    for alias, service in services.items():
        client = client.with_service_binding(alias, service)
    if ready:
        client = client.with_env_variable(bench.RUN_ID_VARIABLE, run_id).with_exec(list(ready))
    client = client.with_directory(bench.LAST_DIR, last if last is not None else dag.directory())
    if policy is not None:
        client = client.with_file(bench.POLICY_FILE, policy)
    client = client.with_env_variable(bench.RUN_ID_VARIABLE, run_id)
    for scenario in scenarios:
        url = bench.SERVICE_URLS[scenario.service]
        client = client.with_exec(bench.run(scenario, load, url=url, out_root=bench.OUT_DIR, sha=sha))
        compare = bench.compare(
            scenario,
            out_root=bench.OUT_DIR,
            last_root=bench.LAST_DIR,
            policy=bench.POLICY_FILE if policy is not None else None,
        )
        client = client.with_exec(compare, expect=dagger.ReturnType.ANY)
    return client


def report_client(
    image: dagger.Container,
    *,
    token: dagger.Secret,
    comparison: dagger.File,
    summary: dagger.File,
    argv: Sequence[str],
    run_id: str,
) -> dagger.Container:
    """`image` posting a comparison with `argv` (bench.report); the token only in $GITHUB_TOKEN."""
    return (
        image.with_file(bench.REPORT_COMPARISON, comparison)
        .with_file(bench.REPORT_SUMMARY, summary)
        .with_secret_variable(bench.TOKEN_VARIABLE, token)
        .with_env_variable(bench.RUN_ID_VARIABLE, run_id)
        .with_exec(list(argv))
    )
