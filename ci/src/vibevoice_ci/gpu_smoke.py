"""The GPU concern: the TTS cuda image on an engine that sees NVIDIA GPUs (never part of `ci`).

`smoke` proves it speaks; `bench` measures it with the nightly scenarios and gates it against a
baseline of its own (bench.yml's opt-in GPU job). The service's settings and the smoke's command line
are in gpu; the containers in gpu_containers and bench_containers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import dagger
from dagger import Doc, object_type

from vibevoice_ci import artifacts, bench, bench_containers, gpu, gpu_containers
from vibevoice_ci import benchmark as bench_args
from vibevoice_ci.benchmark import Benchmark
from vibevoice_ci.decorators import function
from vibevoice_ci.metadata import BuildInfo
from vibevoice_ci.services import AGENT, TTS

ModelArg = Annotated[str, Doc("an id fetched at start into a cache volume, or a path in the image")]
WaitArg = Annotated[float, Doc("seconds the TTS may take to fetch and load the model")]


@object_type
class Gpu:
    """The TTS cuda image with all the engine's GPUs (a self-hosted GPU runner)."""

    source: dagger.Directory
    redirects: Sequence[str] = ()  # air-gapped mode: main's --mirror and --image pairs (mirrors.py)

    @function(cache="never")
    def smoke(
        self, model: ModelArg = gpu.DEFAULT_MODEL, wait: WaitArg = gpu.DEFAULT_WAIT_S
    ) -> dagger.Container:
        """vibevoice-smoke against the TTS cuda image running with all the engine's GPUs.

        Needs an engine with NVIDIA GPU support (a self-hosted GPU runner); not part of `ci`. Run it as
        `dagger call gpu smoke stdout`: the smoke's report, and a failed call if the smoke fails.
        """
        image = artifacts.image(
            self.source, TTS, gpu.PLATFORM, gpu.TARGET, BuildInfo(), redirects=self.redirects
        )
        service = gpu_containers.gpu_service(image, model=model, port=TTS.port)
        return gpu_containers.smoke_client(
            image, service, alias=TTS.name, url=TTS.url, wait_s=wait, run_id=datetime.now(UTC).isoformat()
        )

    @function(cache="never")
    async def bench(
        self,
        *,
        requests: bench_args.RequestsArg = bench.DEFAULT_REQUESTS,
        concurrency: bench_args.ConcurrencyArg = bench.DEFAULT_CONCURRENCY,
        corpus: bench_args.CorpusArg = bench.DEFAULT_CORPUS,
        scenarios: bench_args.ScenariosArg = bench.SCENARIO_NAMES,
        baseline: bench_args.BaselineArg = None,
        policy: bench_args.PolicyArg = None,
        git_sha: bench_args.GitShaArg = "",
        model: ModelArg = gpu.DEFAULT_MODEL,
        wait: WaitArg = gpu.DEFAULT_WAIT_S,
        enforce: Annotated[bool, Doc("fail on a regression; false: return the results regardless")] = True,
    ) -> dagger.Directory:
        """The nightly scenarios against the TTS cuda image on the engine's GPUs (the agent in front of
        it), gated against the GPU's own last good run: the same output and verdict as `bench`."""
        load = bench.Load(requests=requests, concurrency=concurrency, corpus=corpus)
        cuda = artifacts.image(
            self.source, TTS, gpu.PLATFORM, gpu.TARGET, BuildInfo(), redirects=self.redirects
        )
        tts = gpu_containers.gpu_service(cuda, model=model, port=TTS.port)
        shipped = artifacts.shipped(self.source, gpu.PLATFORM, BuildInfo(), self.redirects)
        client = bench_containers.bench_client(
            shipped[TTS.name],
            artifacts.bound_services({AGENT.name: shipped[AGENT.name]}, given={TTS.name: tts}),
            scenarios=bench.scenarios(scenarios),
            load=load,
            last=baseline,
            policy=policy,
            sha=bench.git_sha(git_sha),
            run_id=datetime.now(UTC).isoformat(),
            ready=gpu.smoke(TTS.url, wait),
        )
        results = client.directory(bench.OUT_DIR)
        if enforce:
            await Benchmark(source=self.source, platform=gpu.PLATFORM, redirects=self.redirects).gate(results)
        return results
