"""The Functions app fixture (`app`) is shared suite-wide from tests/conftest.py; its builder is
tests/support/app.py."""
