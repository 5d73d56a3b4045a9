"""Meterline: open-source usage-based billing with a Togai-compatible API."""

__version__ = "0.1.0"
