"""The chart and cluster concern: helm lint and template, the chart's tests, the cluster test.

The command lines are in helm and cluster; the containers and services in containers; the dev
environment the chart tests run in, the suite's (suite.devenv).
"""

from __future__ import annotations

from typing import Annotated

import dagger
from dagger import Doc, object_type

from vibevoice_ci.chart import cluster, containers, helm
from vibevoice_ci.core import commands, inputs
from vibevoice_ci.core.decorators import check, function
from vibevoice_ci.core.metadata import BuildInfo
from vibevoice_ci.core.outcomes import Step
from vibevoice_ci.core.toolchain import Toolchain
from vibevoice_ci.images.build import NATIVE, shipped
from vibevoice_ci.suite import devenv


@object_type
class Chart:
    """The Helm chart: linted, rendered, tested, and installed into k3s inside the engine."""

    toolchain: Toolchain

    @function
    @check
    async def lint(self) -> None:
        """helm lint --strict and helm template of the chart, with its defaults and each ci values file."""
        chart = self._chart()
        entries = await chart.entries(path=helm.CI_VALUES_DIR)
        helm_image = await self.toolchain.tool("helm")
        await containers.linted(helm_image, chart, entries, await self._kube_version()).sync()

    @function
    @check
    async def tests(self) -> None:
        """The chart's test suite (tests/chart: schema, templates, toggles, security) with the pinned helm."""
        env = await devenv.dev_env(self.toolchain, inputs.CHART_TESTS, product=True)
        tests = commands.pytest(markers=commands.CHART_TEST_MARKERS, paths=commands.CHART_TESTS, workers=True)
        await env.with_exec(tests).sync()

    @function
    async def template(
        self,
        values: Annotated[
            dagger.File | None, Doc("a values file (default: the chart's ci/cpu-values.yaml)")
        ] = None,
    ) -> dagger.File:
        """The chart's manifests (its helm test pod included), rendered for the cluster test's Kubernetes."""
        helm_image = await self.toolchain.tool("helm")
        return containers.rendered(helm_image, self._chart(), await self._kube_version(), values)

    @function(cache="never")
    async def cluster_test(self) -> str:
        """The chart installed into k3s (in the engine) from this commit's images; helm test, then smoke."""
        return await containers.cluster_test(
            images=await shipped(self.toolchain, NATIVE, BuildInfo()),
            chart=self._chart(),
            k3s_image=await self.toolchain.tool("k3s"),
            helm_image=await self.toolchain.tool("helm"),
            registry_image=await self.toolchain.tool("registry"),
        )

    def _chart(self) -> dagger.Directory:
        return self.toolchain.source.directory(helm.CHART_DIR)

    async def _kube_version(self) -> str:
        """The pinned k3s's Kubernetes version: the chart is rendered for the cluster it is tested on."""
        return cluster.kube_version((await self.toolchain.tool("k3s")).tag)

    def steps(self) -> list[Step]:
        """Its checks as `ci` runs them (the cluster test is helm.yml's, on main)."""
        return [("chart lint", self.lint), ("chart tests", self.tests)]
