"""The name an Airflow worker reports for the tasks it runs: ``[core] hostname_callable``.

Airflow records the host of every task try (``hostname`` of a task instance) with the callable its
configuration names, by default the machine's fully qualified name. Several Celery workers on one
machine (``airflow celery worker -H crawl-a@%h``) would all report the same name, so that which
worker ran a try could not be told. With
``AIRFLOW__CORE__HOSTNAME_CALLABLE=warwatch.workername:worker_hostname`` a worker started with
``WARWATCH_WORKER_NAME=crawl-a`` reports ``crawl-a``; without the variable it reports the
machine's name, as Airflow does.
"""

from __future__ import annotations

import os
import socket

#: The environment variable naming this worker (read when Airflow asks, in the task's process).
WORKER_NAME_ENV = "WARWATCH_WORKER_NAME"


def worker_hostname() -> str:
    name = os.environ.get(WORKER_NAME_ENV, "").strip()
    return name or socket.getfqdn()
