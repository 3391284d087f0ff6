"""Register the module the way the engine's Python runtime does, up to its first call to the engine.

Run as a script with DAGGER_MAIN_OBJECT set (the runtime sets it from dagger.json's name). It loads
the main object through the `dagger.mod` entry point, then runs the SDK's own registration, which
builds the type definition of every object, function and argument (rejecting unsupported types,
defaults that do not serialize, a missing main object) and only at the end asks the engine for an
ID. With no engine that last step fails with a connection error, which is what a correct module
reaches. Prints JSON: that error, what was registered for each function of the main object, and the
same for each object a function returns (the concerns: supply chain, chart, benchmark, ...).
"""

# The registration entry and the function table are the SDK's internals, and untyped.
# pyright: reportPrivateUsage=false, reportUnknownMemberType=false, reportUnknownVariableType=false

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import dagger
from dagger.mod.cli import load_module


async def probe() -> dict[str, object]:
    module = load_module()
    reached = ""
    try:
        await module._typedefs()
    except dagger.ClientConnectionError as error:
        reached = str(error)
    main_name = os.environ["DAGGER_MAIN_OBJECT"]
    module.get_object(main_name).get_constructor()
    objects = {name: functions_of(module.get_object(name)) for name in module._objects}
    return {"reached_engine": reached, "functions": objects.pop(main_name), "objects": objects}


def functions_of(registered: Any) -> dict[str, object]:
    """What the SDK registered for each function of one object, by name ("" is the constructor)."""
    return {
        function.name: {
            "check": function.check,
            "cache": function.cache_policy,
            "doc": function.doc,
            "args": {
                parameter.name: {
                    "type": str(parameter.resolved_type),
                    "doc": parameter.doc,
                    "optional": parameter.is_optional,
                    "default_path": parameter.default_path,
                    "ignore": parameter.ignore,
                    "default": parameter.default_value,
                }
                for parameter in function.parameters.values()
            },
        }
        for function in registered.functions.values()
    }


if __name__ == "__main__":
    print(json.dumps(anyio.run(probe)))
