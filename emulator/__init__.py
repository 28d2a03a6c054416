"""The estate emulator: ARM, the Databricks workspace API and a Teams webhook sink, offline.

Developers and the test-suite point the real azure-mgmt clients and databricks-sdk at it
(`emulator.server.EmulatorServer`, or `python -m emulator --seed P`). It holds estate state
only and knows nothing about driftwatch's compliance rules.
"""
