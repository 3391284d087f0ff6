"""The GPU concern: the TTS cuda image on an engine that sees NVIDIA GPUs (never part of `ci`).

`smoke` proves it speaks; `bench` measures it with the nightly scenarios and gates it against a
baseline of its own (bench.yml's opt-in GPU job). The service's settings and the smoke's command line
are in settings; the containers in containers and the benchmark's.
"""

from __future__ import annotations

from typing import Annotated

import dagger
from dagger import Doc, object_type

from vibevoice_ci.benchmark import bench
from vibevoice_ci.benchmark import containers as bench_containers
from vibevoice_ci.benchmark import object as bench_args
from vibevoice_ci.benchmark.object import Benchmark
from vibevoice_ci.core.decorators import function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.toolchain import Toolchain, call_time
from vibevoice_ci.gpu import containers, settings
from vibevoice_ci.images.binding import bound_services
from vibevoice_ci.images.build import service_image, shipped
from vibevoice_ci.images.catalog import AGENT, TTS

ModelArg = Annotated[str, Doc("an id fetched at start into a cache volume, or a path in the image")]
WaitArg = Annotated[float, Doc("seconds the TTS may take to fetch and load the model")]


@object_type
class Gpu:
    """The TTS cuda image with all the engine's GPUs (a self-hosted GPU runner)."""

    toolchain: Toolchain

    @function(cache="never")
    async def smoke(
        self, model: ModelArg = settings.DEFAULT_MODEL, wait: WaitArg = settings.DEFAULT_WAIT_S
    ) -> dagger.Container:
        """vibevoice-smoke against the TTS cuda image running with all the engine's GPUs.

        Needs an engine with NVIDIA GPU support (a self-hosted GPU runner); not part of `ci`. Run it as
        `dagger call gpu smoke stdout`: the smoke's report, and a failed call if the smoke fails.
        """
        cuda = await self._cuda()
        service = containers.gpu_service(cuda, model=model, port=TTS.port)
        return containers.smoke_client(
            cuda, service, alias=TTS.name, url=TTS.url, wait_s=wait, run_id=call_time()
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
        model: ModelArg = settings.DEFAULT_MODEL,
        wait: WaitArg = settings.DEFAULT_WAIT_S,
        enforce: Annotated[bool, Doc("fail on a regression; false: return the results regardless")] = True,
    ) -> dagger.Directory:
        """The nightly scenarios against the TTS cuda image on the engine's GPUs (the agent in front of
        it), gated against the GPU's own last good run: the same output and verdict as `bench`."""
        load = bench.Load(requests=requests, concurrency=concurrency, corpus=corpus)
        tts = containers.gpu_service(await self._cuda(), model=model, port=TTS.port)
        images = await shipped(self.toolchain, settings.PLATFORM, BuildInfo())
        client = bench_containers.bench_client(
            images[TTS.name],
            bound_services({AGENT.name: images[AGENT.name]}, given={TTS.name: tts}),
            scenarios=bench.scenarios(scenarios),
            load=load,
            last=baseline,
            policy=policy,
            sha=bench.git_sha(git_sha),
            run_id=call_time(),
            ready=settings.smoke(TTS.url, wait),
        )
        results = client.directory(bench.OUT_DIR)
        if enforce:
            await Benchmark(toolchain=self.toolchain, platform=settings.PLATFORM).gate(results)
        return results

    async def _cuda(self) -> dagger.Container:
        return await service_image(self.toolchain, TTS, settings.PLATFORM, settings.TARGET, BuildInfo())
