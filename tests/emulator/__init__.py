"""Tests for the estate emulator (ARCHITECTURE 3, 4.3)."""
