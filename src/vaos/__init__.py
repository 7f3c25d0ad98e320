"""VAOS: a self-hosted agent runtime daemon."""

__version__ = "0.1.0"

__all__ = ["__version__"]
