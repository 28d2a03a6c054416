"""The `driftwatch` command line (ARCHITECTURE 4.1), one module per command family.

`app` builds the parser and runs the offline commands; `scan`, `findings` and `ops` register the
commands that reach Azure, the emulator or the findings store; `store` is the scan's reconcile with
the findings store; `common` is the leaf they all share. Imports are lazy: `driftwatch --help` must
not pay for pydantic, the Azure SDKs or databricks-sdk.
"""

from core.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
