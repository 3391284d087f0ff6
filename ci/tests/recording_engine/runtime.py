"""The module's runtime, as the engine starts it, serving one call after another.

Run as a script with the engine's session variables set (DAGGER_SESSION_PORT, DAGGER_SESSION_TOKEN,
DAGGER_MAIN_OBJECT). It loads the module through its `dagger.mod` entry point and, for each call the
stand-in engine hands out, runs the SDK's own `Module.serve()`: registration when the call has no
parent, otherwise the function, its result returned with `returnValue`. Where the engine starts a
fresh runtime per call, this one keeps its connection, so the SDK fetches the schema once.

The engine's runtime holds the module's dependencies alone. The project's venv also holds httpx2
(openai's), which gql then prefers to httpx, and the SDK's own transport, an httpx one, does not fit
it (gql's requests fail an assertion and the SDK retries forever): so httpx2 is hidden here.
"""

from __future__ import annotations

import sys
import traceback

import anyio
import httpx

WAIT_S = 600  # for the next call: the tests evaluate the last one meanwhile


async def serve(control: str) -> None:
    sys.modules["httpx2"] = None  # type: ignore[assignment]  # as absent as in the engine's runtime
    import dagger
    from dagger.mod.cli import load_module

    async with await dagger.connect(), httpx.AsyncClient(base_url=control, timeout=WAIT_S) as client:
        module = load_module()
        while (await client.get("/runtime/next")).status_code == 200:  # 204: no more calls
            try:
                await module.serve()
                error = ""
            except Exception:  # the call's failure is the recording's, not the runtime's
                error = traceback.format_exc()
            await client.post("/runtime/done", json={"error": error})


if __name__ == "__main__":
    anyio.run(serve, sys.argv[1])
