"""Neutral document schemas shared by driftwatch and its emulator (no rules, no I/O, no SDK)."""

ESTATE_SCHEMA = "driftwatch.estate/v1"
"""The schema name of the estate document; here so a reader can name it without building the models."""
