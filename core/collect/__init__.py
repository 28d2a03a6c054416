"""Collectors: the only code that reads ARM and the Databricks workspace API."""

from core.collect.collector import CollectResult, EstateCollector, api_needs
from core.collect.config import CollectConfig, ConfigError

__all__ = ["CollectConfig", "CollectResult", "ConfigError", "EstateCollector", "api_needs"]
