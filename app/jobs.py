"""The task queue (Huey): print jobs run here, never inside a web request that can time out.

Storage: SQLite in the instance folder by default, so the embedded install needs no other
service; Redis when REDIS_URL is set (production). scripts/demo.sh starts the consumer:

    .venv/bin/huey_consumer app.jobs.huey --workers 1

The tests run tasks at once in the calling thread (`huey.immediate = True`, tests/conftest.py).
"""
from __future__ import annotations

import datetime as dt
import os

from flask import Flask, current_app, has_app_context
from huey import RedisHuey, SqliteHuey, crontab

from app.config import _instance_path


def _make_huey():
    url = os.environ.get("REDIS_URL")
    if url:
        return RedisHuey("doorstep", url=url, results=False)
    instance = _instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("doorstep", filename=str(instance / "tasks.sqlite"), results=False)


huey = _make_huey()
_consumer_app: Flask | None = None


def _app() -> Flask:
    """The app whose database the task uses: the caller's (immediate mode, tests), else one
    made from the environment once per consumer process."""
    global _consumer_app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _consumer_app is None:
        from app import create_app
        _consumer_app = create_app()
    return _consumer_app


@huey.task()
def run_print_job(job_id: int) -> None:
    from app.domain import print_jobs

    # A new app context: its own database session, apart from any request that enqueued it.
    with _app().app_context():
        print_jobs.run(job_id)


@huey.periodic_task(crontab(minute="*"))
def requeue_stale_print_jobs() -> None:
    """A job recorded but never handed to the queue (the web worker died between its commit
    and the enqueue, or the queue's storage was lost) is sent again: nothing asked for is lost."""
    from app.domain import print_jobs

    with _app().app_context():
        for job_id in print_jobs.stale_job_ids(older_than=dt.timedelta(minutes=2)):
            run_print_job(job_id)


@huey.periodic_task(crontab(minute="17", hour="*"))
def delete_old_print_files() -> None:
    from app.domain import print_jobs
    from app.extensions import db

    app = _app()
    with app.app_context():
        print_jobs.delete_old_files(app.config["PRINT_KEEP_DAYS"])
        db.session.commit()
