"""Index a Functions app the way the Python worker does (azure-functions-runtime), offline.

`python -m samples.worker_index [APP_DIR]` imports `function_app.py` from APP_DIR, collects its
functions with the worker's own loader and validates every function's bindings against its
signature with the worker's Registry; a binding the real worker would refuse fails with its message.
The gRPC `protos` module comes from the host at run time; only its BindingInfo enum is needed here.
"""

from __future__ import annotations

import json
import sys
import types


def main(argv: list[str]) -> int:
    app_dir = argv[0] if argv else "."
    sys.path.insert(0, app_dir)
    from azure_functions_runtime.bindings.meta import load_binding_registry
    from azure_functions_runtime.functions import FunctionLoadError, Registry
    from azure_functions_runtime.loader import index_function_app

    binding_info = types.SimpleNamespace(in_=0, out=1, inout=2, undefined=0, string=1, binary=2, stream=3)
    protos = types.SimpleNamespace(BindingInfo=binding_info)
    load_binding_registry()
    registry = Registry()
    indexed = index_function_app(f"{app_dir}/function_app.py")
    result = []
    for fn in indexed:
        try:
            info = registry.add_indexed_function(fn, protos)
        except FunctionLoadError as exc:
            print(json.dumps({"ok": False, "function": fn.get_function_name(), "error": str(exc)}))
            return 1
        result.append({"name": info.name, "bindings": json.loads(fn.get_function_json())["bindings"]})
    print(json.dumps({"ok": True, "functions": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
