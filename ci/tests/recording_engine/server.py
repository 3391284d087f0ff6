"""The stand-in engine on loopback: the GraphQL endpoint the SDK talks to, and the runtime it serves.

`session()` serves the engine's `/query` endpoint (the session token checked as the real one checks
it) and starts the module's runtime (runtime.py) in its own process, pointed at it by the session
variables. `Session.invoke` hands the runtime one call and waits for it to finish.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import subprocess
import sys
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recording_engine.engine import Engine, respond
from recording_engine.recording import Call
from tests.support.threaded_server import serve_in_thread

RUNTIME = Path(__file__).with_name("runtime.py")
CALL_TIMEOUT_S = 600


@dataclass
class Session:
    engine: Engine
    calls: queue.Queue[bool]
    done: queue.Queue[dict[str, Any]]
    runtime: subprocess.Popen[bytes]
    log: Path

    def invoke(self, call: Call, parent_name: str, name: str, parent: str, inputs: Mapping[str, str]) -> Call:
        """Run one function in the module's runtime, recording into `call`."""
        with self.engine.lock:
            self.engine.current = (parent_name, name, parent, dict(inputs))
            self.engine.call = call
            self.engine.returned = None
        self.calls.put(True)
        try:
            outcome = self.done.get(timeout=CALL_TIMEOUT_S)
        except queue.Empty:
            msg = f"the runtime did not finish {call.path}: see {self.log}"
            raise RuntimeError(msg) from None
        call.error = str(outcome.get("error") or "")
        call.result = json.loads(self.engine.returned) if self.engine.returned else None
        return call


def _app(
    engine: Engine, token: str, calls: queue.Queue[bool], done: queue.Queue[dict[str, Any]]
) -> Starlette:
    introspection: dict[str, Any] = {}
    expected = "Basic " + base64.b64encode(f"{token}:".encode()).decode()

    async def query(request: Request) -> Response:
        if request.headers.get("authorization") != expected:
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        body = await request.json()
        if "__schema" in body["query"]:  # the SDK's introspection, once per connection
            if not introspection:
                assert engine.schema is not None
                introspection["data"] = graphql.introspection_from_schema(engine.schema)
            return JSONResponse(introspection)
        return JSONResponse(respond(engine, body))

    async def next_call(_: Request) -> Response:
        go = await anyio.to_thread.run_sync(calls.get)
        return Response(status_code=200 if go else 204)

    async def finished(request: Request) -> Response:
        done.put(await request.json())
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/query", query, methods=["POST"]),
            Route("/runtime/next", next_call, methods=["GET"]),
            Route("/runtime/done", finished, methods=["POST"]),
        ]
    )


@contextmanager
def session(engine: Engine, main_object: str, module: str, log: Path) -> Generator[Session]:
    """The engine served on loopback and the module's runtime connected to it."""
    token = secrets.token_hex(16)
    calls: queue.Queue[bool] = queue.Queue()
    done: queue.Queue[dict[str, Any]] = queue.Queue()
    with serve_in_thread(_app(engine, token, calls, done)) as url:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DAGGER_", "OTEL_"))}
        env |= {
            "DAGGER_SESSION_PORT": url.rsplit(":", 1)[1],
            "DAGGER_SESSION_TOKEN": token,
            "DAGGER_MAIN_OBJECT": main_object,
            "DAGGER_MODULE": module,
        }
        with log.open("wb") as output:
            runtime = subprocess.Popen(
                [sys.executable, str(RUNTIME), url], env=env, stdout=output, stderr=subprocess.STDOUT
            )
            try:
                yield Session(engine, calls, done, runtime, log)
            finally:
                calls.put(False)
                try:
                    runtime.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    runtime.kill()
                    runtime.wait()
