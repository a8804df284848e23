"""Where a run's steps execute: in the run's own process (the embedded default), or on Celery workers (production).

HUB_EXECUTOR=celery sends every step to the queue HUB_CELERY_QUEUE (default `hub`) of the broker in
HUB_CELERY_BROKER_URL (results over HUB_CELERY_BACKEND_URL, default `rpc://`); workers run
`celery -A dagster_project.celery_app worker -Q <queue>` and reach the same PostgreSQL and archive.
"""

from __future__ import annotations

import os

import dagster as dg

EXECUTORS = ("in_process", "celery")


def celery_queue() -> str:
    return os.environ.get("HUB_CELERY_QUEUE") or "hub"


def hub_executor() -> dg.ExecutorDefinition:
    """The executor HUB_EXECUTOR names (unset: in process)."""
    name = os.environ.get("HUB_EXECUTOR") or "in_process"
    if name == "in_process":
        return dg.in_process_executor
    if name != "celery":
        raise ValueError(f"HUB_EXECUTOR={name!r} is not one of {', '.join(EXECUTORS)}")
    if not os.environ.get("HUB_CELERY_BROKER_URL"):
        raise ValueError("HUB_EXECUTOR=celery needs HUB_CELERY_BROKER_URL (e.g. pyamqp://user:pw@rabbitmq:5672//)")
    from dagster_celery import celery_executor

    return celery_executor.configured({  # the URLs carry passwords: resolved from env in the run, never stored
        "broker": {"env": "HUB_CELERY_BROKER_URL"},
        "backend": {"env": "HUB_CELERY_BACKEND_URL"} if os.environ.get("HUB_CELERY_BACKEND_URL") else "rpc://",
        "config_source": {"task_default_queue": celery_queue()},
    }, name="celery")
