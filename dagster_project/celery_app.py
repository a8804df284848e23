"""The Celery app a hub worker runs: `celery -A dagster_project.celery_app worker -Q hub` (see executor.py).

Built like dagster-celery's own `dagster_celery.app`, but the broker and result backend come from the environment
(HUB_CELERY_BROKER_URL, HUB_CELERY_BACKEND_URL), not from a config file holding the broker's password.
"""

from __future__ import annotations

import os

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from dagster_project.executor import celery_queue

app = make_app(CeleryExecutor.for_cli(
    broker=os.environ["HUB_CELERY_BROKER_URL"], backend=os.environ.get("HUB_CELERY_BACKEND_URL") or "rpc://",
    config_source={"task_default_queue": celery_queue()}).app_args())
execute_plan = create_task(app)
