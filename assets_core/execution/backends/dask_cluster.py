"""The Dask cluster a run starts when it is given no address (``docs/dask.md``).

Worker processes on this machine, one thread each, listening on 127.0.0.1 only, with the
machine's cores shared out between them and Dask's own background work turned down:

- a lost worker fails its task at once (``allowed-failures`` 0): the run's retries decide;
- no statistical profiler: it samples each running task's stack 100 times a second, in the
  worker's event loop, contending with the task for the interpreter lock;
- the event-loop health check every second instead of every 20 ms, in each worker, each
  nanny, the scheduler and the client; the dashboard's system samples every 2 s; the memory
  limits checked twice a second instead of ten times.

Measured on 2 cores (``bench/dask_executor.py``, ``docs/performance.md``): these bring an idle
cluster of 2 workers from about 11% of a core to about 2%, which is the time a CPU-bound step
would otherwise lose to them.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["SETTINGS", "local_cluster"]

#: The Dask settings of a cluster started here (see the module docstring).
SETTINGS: dict[str, object] = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
}

#: the variables that size native thread pools (pyarrow reads ``OMP_NUM_THREADS`` too)
_POOLS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pool_settings(workers: int) -> dict[str, object]:
    """Each worker's native thread pools sized to its share of this machine's cores, so that
    ``workers`` processes together use every core and no more."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    return {f"distributed.nanny.pre-spawn-environ.{name}": share for name in _POOLS}


def local_cluster(distributed: Any, workers: int) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes on this
    machine, with ``SETTINGS``; close it when done."""
    import dask

    from assets_core.execution.backends.processes import stops_ignored

    with dask.config.set({**SETTINGS, **pool_settings(workers)}), stops_ignored():
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",  # reachable from this machine only
            dashboard_address=":0",  # its HTTP server on any free port, no dashboard
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.CRITICAL,
        )
