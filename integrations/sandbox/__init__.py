"""Simulated department systems: real HTTP servers on loopback, one dialect each.

Used by ``hefeitong serve`` in dev, by tests over real HTTP and as benchmark
upstreams. Each server also offers the admin API under ``/__sandbox/`` (faults,
stats; see ``faults``). Expected values for tests come from ``data``.
"""

from . import data
from .cluster import (
    DEFAULT_PORTS,
    DEPARTMENTS,
    AsyncSandbox,
    SandboxHandle,
    run_sandbox_forever,
    start_sandbox,
    start_sandbox_thread,
)
from .common import SANDBOX_CREDENTIALS
from .faults import FAULT_HEADER
from .provident_fund import provident_fund_sign

__all__ = [
    "DEFAULT_PORTS",
    "DEPARTMENTS",
    "FAULT_HEADER",
    "SANDBOX_CREDENTIALS",
    "AsyncSandbox",
    "SandboxHandle",
    "data",
    "provident_fund_sign",
    "run_sandbox_forever",
    "start_sandbox",
    "start_sandbox_thread",
]
