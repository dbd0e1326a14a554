"""Health and SLOs per adapter operation, shared by every API instance and worker.

Providers who onboard their own systems need to see how those systems behave under real
traffic: per operation the success rate and p50/p95 latency over the last minute, five
minutes and hour, the last error, and the department's circuit breaker.

* ``HealthRecorder`` is the ``Invoker``'s observer. It only counts in process (a few integer
  additions and one bisect per call: the invoke path is benchmarked) and flushes every few
  seconds to one KV hash per adapter and 10-second bucket, so every process adds to the same
  figures. Buckets expire shortly after the longest window.
* ``adapter_health`` reads those buckets back (one round trip) into an ``AdapterHealth``.
* ``OpenBreakers`` keeps this process's view of which breakers are open, for the catalog's
  ``degraded`` flag, without a KV round trip per catalog request.
* ``probe_forever`` calls every ``probe_safe`` operation now and then, so a quiet department
  still has figures, and a recovered one closes its breaker without waiting for a citizen.
* ``start_health`` starts those loops for the lifespan.

The figures and their precision: figures.py. Recording: recorder.py. Reading: report.py.
Watching and probing: probing.py. Starting and stopping: tasks.py.
"""

from backend.providers.health.figures import (
    BUCKET_SECONDS,
    PERCENTILE_RELATIVE_ERROR,
    WINDOWS,
    WindowStats,
    bin_estimate_ms,
    percentile_ms,
)
from backend.providers.health.probing import (
    OpenBreakers,
    probe_forever,
    probe_once,
    probe_targets,
)
from backend.providers.health.recorder import HealthRecorder
from backend.providers.health.report import AdapterHealth, OperationHealth, adapter_health
from backend.providers.health.tasks import HealthTasks, start_health

__all__ = [
    "BUCKET_SECONDS",
    "PERCENTILE_RELATIVE_ERROR",
    "WINDOWS",
    "AdapterHealth",
    "HealthRecorder",
    "HealthTasks",
    "OpenBreakers",
    "OperationHealth",
    "WindowStats",
    "adapter_health",
    "bin_estimate_ms",
    "percentile_ms",
    "probe_forever",
    "probe_once",
    "probe_targets",
    "start_health",
]
