"""Neutral document schemas shared by driftwatch and its emulator (no rules, no I/O, no SDK)."""
