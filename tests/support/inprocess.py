"""Driving an app in-process: its lifespan runs, requests go through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from fastapi import FastAPI


@asynccontextmanager
async def app_client(app: FastAPI, ready_path: str | None = "/ready") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client bound to `app`, after its lifespan started (and `ready_path` answered 200)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            if ready_path is not None:
                with anyio.fail_after(5):
                    while (await client.get(ready_path)).status_code != 200:  # noqa: ASYNC110 - polling an HTTP API
                        await anyio.sleep(0.01)
            yield client
