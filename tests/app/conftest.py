"""No fixtures of its own: `app` (the registered Functions over Azurite and the estate emulator; builder
tests/support/app.py), `azurite` and `store` are shared suite-wide from tests/conftest.py."""
