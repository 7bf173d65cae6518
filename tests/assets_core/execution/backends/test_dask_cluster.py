"""The cluster a dask run starts when given no address (``backends.dask_cluster``), started for
real: its settings reach the spawned worker processes, not only the process that starts them.

What is pinned: one thread per worker, each worker's native thread pools sized to its share of
the cores, Dask's profiler off in the workers, and a lost worker's task not run again by the
scheduler (the run's retries decide).
"""

from __future__ import annotations

import os
import sys

import pytest

from assets_core.execution.backends.dask_cluster import local_cluster, pool_settings

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX worker processes")


def _worker_view() -> tuple[str | None, object, int]:
    import dask
    import pyarrow as pa

    profiling = dask.config.get("distributed.worker.profile.enabled")
    return os.environ.get("OMP_NUM_THREADS"), profiling, pa.cpu_count()


def _scheduler_allowed_failures(dask_scheduler: object) -> int:
    return dask_scheduler.allowed_failures  # type: ignore[attr-defined,no-any-return]


def test_the_workers_get_the_settings_and_a_share_of_the_cores() -> None:
    share = max(1, (os.cpu_count() or 1) // 2)
    with (
        local_cluster(distributed, 2) as cluster,
        distributed.Client(cluster.scheduler_address) as client,
    ):
        info = client.scheduler_info()["workers"]
        assert sorted(w["nthreads"] for w in info.values()) == [1, 1]
        views = client.run(_worker_view)
        assert list(views.values()) == [(str(share), False, share)] * 2
        assert client.run_on_scheduler(_scheduler_allowed_failures) == 0


def test_a_worker_gets_at_least_one_thread_of_each_pool() -> None:
    many = (os.cpu_count() or 1) * 4
    assert set(pool_settings(many).values()) == {"1"}
    assert set(pool_settings(1).values()) == {str(os.cpu_count() or 1)}
