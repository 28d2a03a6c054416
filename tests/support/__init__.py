"""Shared test helpers, as plain modules: builders and fixtures' backing code.

Test modules import these, never a conftest file (pytest owns those). The fixtures shared across
folders (`azurite`, `app`) are registered once in tests/conftest.py.

- `app`: the Functions app over Azurite and the estate emulator (`make_app`, `App`, `settings_env`);
- `cards`: finding documents and transition messages for the Teams notifier;
- `collect`: an emulator `CollectConfig` with short timeouts;
- `estates`: realistic workspace states, the strict baseline, findings for unit tests;
- `seed`: a small estate seed for the emulator tests and SDK clients pointed at it;
- `store`: workspace ids, findings as the rules engine builds them, an emptied storage account.
"""
