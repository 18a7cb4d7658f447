"""Garage: parking garage management service."""

__version__ = "0.1.0"
