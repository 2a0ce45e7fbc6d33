"""The task queue (Huey): print jobs and list imports run here, never inside a web request that can time out.

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
    from app import runs

    # A new app context: its own database session, apart from any request that enqueued it.
    with _app().app_context():
        runs.run_print_job(job_id)


@huey.task()
def run_list_import(list_id: int, path: str, *, source: str, actor_id: int | None, month: str | None = None,
                    mapping_name: str | None = None, overrides: dict[str, str] | None = None,
                    file_name: str | None = None, sheet: str | None = None, delete_file: bool = False) -> None:
    """Load a list recorded by app.domain.lists.prepare_import. Its progress (rows read,
    loaded, ...) is written on the ImportedList row with each chunk, which a page polls; a
    failure leaves the list 'failed' with its error. `delete_file`: the upload is removed after."""
    from flask_babel import force_locale
    from sqlalchemy import update

    from app.domain import lists
    from app.domain.errors import DomainError
    from app.extensions import db
    from app.models import ImportedList, ListState, User

    app = _app()
    with app.app_context(), force_locale(app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        try:
            actor = db.session.get(User, actor_id) if actor_id is not None else None
            lists.import_list(actor, path, source=source, month=month, mapping_name=mapping_name,
                              overrides=overrides, list_id=list_id, file_name=file_name, sheet=sheet,
                              commit=db.session.commit,
                              stale_after=dt.timedelta(seconds=app.config.get("LIST_IMPORT_STALE_AFTER", 600)))
            db.session.commit()
        except DomainError as e:
            # Refused before any row was written (the file changed, a mapping went missing):
            # the prepared list says why.
            db.session.rollback()
            db.session.execute(update(ImportedList).where(ImportedList.id == list_id,
                                                          ImportedList.state == ListState.loading.value)
                               .values(state=ListState.failed.value, error=e.message[:2000]))
            db.session.commit()
        finally:
            db.session.remove()
            if delete_file:
                from pathlib import Path

                Path(path).unlink(missing_ok=True)


@huey.task()
def run_prefill(list_id: int, key: str, actor_id: int) -> None:
    """Pre-filled households from an imported list (app.domain.prefill), a village per commit.
    Its state, progress (records done of total) and final counts are written on the list in
    short commits of their own, which the list's page polls; an error leaves it 'failed' with
    the reason (the villages done stay; a new run goes on from there)."""
    from flask_babel import force_locale
    from flask_babel import gettext as _
    from sqlalchemy import func, or_, update

    from app.domain import prefill
    from app.domain.errors import DomainError
    from app.extensions import db
    from app.models import ImportedList, PrefillState, User, utcnow

    app = _app()

    def mark(*where, **values) -> bool:
        done = db.session.execute(update(ImportedList).where(ImportedList.id == list_id, *where)
                                  .values(prefill_progress_at=utcnow(), **values)
                                  .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return bool(done)

    with app.app_context(), force_locale(app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        try:
            # Not while another job runs it (asked again after it seemed dead, or a direct call).
            stale = utcnow() - dt.timedelta(seconds=app.config.get("LIST_IMPORT_STALE_AFTER", 600))
            if not mark(or_(ImportedList.prefill_state.is_(None),
                            ImportedList.prefill_state != PrefillState.running.value,
                            ImportedList.prefill_progress_at < stale),
                        prefill_state=PrefillState.running.value, prefill_key=key, prefill_by_id=actor_id,
                        prefill_error=None):
                return
            actor = db.session.get(User, actor_id)

            def progress(done: int, total: int) -> None:
                app.logger.info("prefill of list %s: %d of %d records", list_id, done, total)
                mark(prefill_done=done, prefill_total=total)

            try:
                result = prefill.prefill(actor, list_id, key=key, commit=db.session.commit, on_progress=progress,
                                         workers=prefill.default_workers())
                db.session.commit()
            except Exception as e:
                db.session.rollback()  # the villages done so far stay; a new run goes on from there
                if isinstance(e, DomainError):
                    reason = e.message
                else:
                    app.logger.exception("prefill of list %s failed", list_id)
                    reason = _("An unexpected error (%(kind)s); the administrator finds it in the log.",
                               kind=type(e).__name__)
                mark(prefill_state=PrefillState.failed.value, prefill_error=reason[:2000])
                return
            mark(prefill_state=PrefillState.done.value,
                 prefill_total=func.coalesce(ImportedList.prefill_total, ImportedList.prefill_done),  # nothing to do
                 prefill_created=result.created,
                 prefill_updated=result.updated, prefill_noticed=result.noticed)
        finally:
            db.session.remove()


def requeue_stale_jobs() -> list[int]:
    """Hand again to the queue the print jobs that were lost: recorded but never enqueued (the
    web worker died between its commit and the enqueue, or the queue's storage was lost), or
    left running by a consumer that died (after PRINT_JOB_STALE_AFTER seconds without a sign
    of life; failed for good after PRINT_JOB_MAX_ATTEMPTS tries). Nothing asked for is lost."""
    from flask_babel import force_locale

    from app.domain import print_jobs
    from app.extensions import db

    app = _app()
    # The clerk reads the failure message later: no request here, so the default language.
    with app.app_context(), force_locale(app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        job_ids = print_jobs.requeue_stale(stale_after=dt.timedelta(seconds=app.config["PRINT_JOB_STALE_AFTER"]),
                                           max_attempts=app.config["PRINT_JOB_MAX_ATTEMPTS"])
        db.session.commit()
        for job_id in job_ids:  # after the commit: the consumer must see them queued
            run_print_job(job_id)
    return job_ids


@huey.on_startup()
def requeue_at_start() -> None:
    requeue_stale_jobs()


@huey.periodic_task(crontab(minute="*"))
def requeue_stale_print_jobs() -> None:
    requeue_stale_jobs()


@huey.periodic_task(crontab(minute="17", hour="*"))
def delete_old_print_files() -> None:
    from app.domain import print_jobs
    from app.extensions import db

    app = _app()
    with app.app_context():
        print_jobs.delete_old_files(app.config["PRINT_KEEP_DAYS"])
        db.session.commit()


@huey.task()
def run_quality(run_id: int, actor_id: int | None) -> None:
    """The registry-wide run of the quality rules (app.domain.quality_runs), asked from a page:
    its progress (households done of total) is committed on the QualityRun with each village,
    which the page polls; an error leaves it 'failed' with the reason (the villages done stay
    written; a new run goes over them again)."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from app.domain import quality_runs
    from app.domain.errors import DomainError
    from app.extensions import db
    from app.models import User

    app = _app()
    with app.app_context(), force_locale(app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        try:
            actor = db.session.get(User, actor_id) if actor_id is not None else None
            try:
                quality_runs.run(actor, run_id, commit=db.session.commit,
                                 workers=int(app.config.get("QUALITY_RUN_WORKERS", 0)))
                db.session.commit()
            except Exception as e:
                db.session.rollback()
                if isinstance(e, DomainError):
                    reason = e.message
                else:
                    app.logger.exception("quality run %s failed", run_id)
                    reason = _("An unexpected error (%(kind)s); the administrator finds it in the log.",
                               kind=type(e).__name__)
                quality_runs.fail(run_id, reason)
                db.session.commit()
        finally:
            db.session.remove()
