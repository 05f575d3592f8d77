"""Executors for a batch: the local process pool, or a Dask cluster.

:func:`open_executor` is what :func:`grader.batch.grade_batch` calls. With no
scheduler and no cluster it yields ``None`` and the batch uses its own spawn
process pool (:func:`grader.batch.run_pool`). ``scheduler="tcp://HOST:PORT"``
connects to an existing Dask cluster; ``cluster="local"`` starts an embedded
``LocalCluster`` of ``jobs`` single-threaded worker processes. Either way the
batch gets ``Client.get_executor()``, a :class:`concurrent.futures.Executor`,
and submits one plain-data task per submission (:mod:`grader.tasks`): the
assignment and the submission travel inside the task, so workers need the
installed toolkit and nothing else.

Dask is an optional dependency (``pip install 'nlm-grader[dask]'``); without it
these options raise :class:`~grader.errors.DistributedError`, as does a
scheduler that cannot be reached twice in a row or that has no worker.
"""
from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import Executor
from typing import Any, Iterator

from grader.errors import DistributedError

CONNECT_TIMEOUT_SECONDS = 10.0
CLUSTER_CHOICES = ("local",)
INSTALL_HINT = "pip install 'nlm-grader[dask]'"


def require_dask() -> Any:
    """The ``distributed`` module, or a :class:`DistributedError` that says how to install it."""
    try:
        import distributed
    except ImportError as error:
        raise DistributedError(f"grading on a Dask cluster needs dask.distributed, which is not installed "
                               f"({error}); install it with: {INSTALL_HINT}") from None
    return distributed


def connect(address: str, timeout: float = CONNECT_TIMEOUT_SECONDS, attempts: int = 2) -> Any:
    """A ``distributed.Client`` for the scheduler at ``address`` with at least one worker.

    A failed connection is tried once more; then :class:`DistributedError` names the
    address and the last error.
    """
    distributed = require_dask()
    if "://" not in address:
        raise DistributedError(f"--scheduler {address!r}: expected an address such as tcp://HOST:PORT")
    last_error: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(1.0)
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            last_error = error
            continue
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as error:
            client.close()
            raise DistributedError(f"the Dask scheduler at {address} has no worker after {timeout:g} s "
                                   f"({type(error).__name__}); start workers with: "
                                   f"dask worker {address} --nthreads 1") from None
        return client
    raise DistributedError(f"cannot reach the Dask scheduler at {address} (tried {attempts} times, "
                           f"{timeout:g} s each): {type(last_error).__name__}: {last_error}")


@contextlib.contextmanager
def local_cluster(jobs: int) -> Iterator[Any]:
    """An embedded ``LocalCluster`` of ``jobs`` worker processes, one thread each, and its client.

    The scheduler reschedules a task whose worker died up to ``allowed-failures``
    times on its own; here that is 0, so a lost worker reaches the batch, which
    reports it and retries the submission once.
    """
    require_dask()
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    try:
        with Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def open_executor(executor: Executor | None = None, scheduler: str | None = None, cluster: str | None = None,
                  jobs: int = 1, timeout: float | None = None) -> Iterator[Executor | None]:
    """The executor a batch runs on: ``executor`` as given, a Dask one, or None (the local pool).

    ``timeout`` bounds each attempt to reach the scheduler (default :data:`CONNECT_TIMEOUT_SECONDS`).
    """
    chosen = [name for name, value in (("an executor", executor), ("--scheduler", scheduler),
                                       ("--cluster", cluster)) if value is not None]
    if len(chosen) > 1:
        raise DistributedError(f"choose one of {' and '.join(chosen)}, not both")
    if cluster is not None and cluster not in CLUSTER_CHOICES:
        raise DistributedError(f"--cluster {cluster!r}: expected one of {', '.join(CLUSTER_CHOICES)}")
    if scheduler is None and cluster is None:
        yield executor
        return
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            client = connect(scheduler, CONNECT_TIMEOUT_SECONDS if timeout is None else timeout)
            stack.callback(client.close)
        else:
            client = stack.enter_context(local_cluster(jobs))
        # pure=False: a retried task is a new task, never the cached failure of the first.
        yield client.get_executor(pure=False)
