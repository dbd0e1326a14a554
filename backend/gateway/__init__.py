"""Invoking catalog services through their adapters: cache, coalescing, overview, probing.

What other features may use; everything else in this package is the gateway's own
(import-linter's "gateway internals" contract in pyproject.toml keeps it so).
"""

from backend.gateway.probing import ProbeResult, probe

__all__ = ["ProbeResult", "probe"]
