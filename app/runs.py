"""Batch work outside a web request, and its transactions.

The domain flushes and never commits; a view commits once per request. Work that runs for
minutes (a village's books now, registry-wide imports and checks with issue 16) commits in
steps instead, so that progress shows and a crash keeps what was finished: those steps and
their commits are here, called by the task queue (app.jobs) and the CLI.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from app.domain import audit, print_jobs
from app.extensions import db, reads_only
from app.models import PrintJob, PrintJobState, utcnow


class _Superseded(Exception):
    """This consumer's claim is no longer the job's: it was found stale and claimed again."""


def claim_print_job(job_id: int) -> int | None:
    """Claim a queued job for this consumer, committed: one conditional update, so of a task
    sent twice (requeued, retried) or taken by two consumers at once only one runs the job.
    Returns this claim's attempt number, or None when the job was not queued."""
    now = utcnow()
    attempt = db.session.execute(
        update(PrintJob).where(PrintJob.id == job_id, PrintJob.state == PrintJobState.queued.value)
        .values(state=PrintJobState.running.value, started_at=now, heartbeat_at=now,
                attempts=PrintJob.attempts + 1, files=[], done_steps=0, error=None)
        .returning(PrintJob.attempts)).scalar()
    db.session.commit()
    return attempt


def still_ours(job_id: int, attempt: int) -> bool:
    """Note that this consumer is alive, in the transaction about to commit its work; False
    if the job was claimed again meanwhile (the caller rolls its work back). The update locks
    the row (PostgreSQL) or the database (SQLite) until the commit, so a requeue cannot slip
    in between."""
    return bool(db.session.execute(update(PrintJob).where(
        PrintJob.id == job_id, PrintJob.attempts == attempt, PrintJob.state == PrintJobState.running.value)
        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False)).rowcount)


def _beat(job_id: int, attempt: int) -> None:
    if not still_ours(job_id, attempt):
        raise _Superseded


def _run_step(job: PrintJob, index: int, step: print_jobs.Step) -> None:
    # The render only reads, in a transaction of its own, ended before the file is recorded:
    # on SQLite it must not hold the write lock for the seconds a book takes.
    with reads_only():
        pdf, printed, states = print_jobs.render_step(step)
        db.session.commit()  # ends the read; nothing was written
    print_jobs.store_step(job, index, step, pdf, printed, states)


def run_print_job(job_id: int, on_step: Callable[[int, int], None] | None = None) -> PrintJob:
    """Carry out a print job, committing after each file; `on_step(done, total)` reports
    progress. Used by the task queue and the CLI. A job claimed again after this consumer was
    taken for dead: it stops, and what it did since its last heartbeat is rolled back."""
    attempt = claim_print_job(job_id)
    job = db.session.get(PrintJob, job_id)
    if attempt is None:
        return job
    try:
        plan = list(print_jobs.steps(job))
        job.total_steps = len(plan) or 1
        _beat(job_id, attempt)
        db.session.commit()
        for index, step in enumerate(plan):
            _run_step(job, index, step)
            _beat(job_id, attempt)
            db.session.commit()
            if on_step:
                on_step(index + 1, job.total_steps)
        _beat(job_id, attempt)
        print_jobs.move(job, PrintJobState.done)
        audit.record("print.done", actor=job.requested_by_id, object_type="print_job", object_id=job.id,
                     details={"files": len(job.files), "attempt": attempt})
    except _Superseded:
        db.session.rollback()
        return db.session.get(PrintJob, job_id)
    except Exception as error:  # the job records why; the task queue logs the trace
        db.session.rollback()
        if not still_ours(job_id, attempt):
            db.session.rollback()
            raise  # no longer this consumer's job: the consumer that has it records its outcome
        job = db.session.get(PrintJob, job_id)
        print_jobs.move(job, PrintJobState.failed)
        job.error = f"{type(error).__name__}: {error}"[:2000]
        audit.record("print.failed", actor=job.requested_by_id, object_type="print_job", object_id=job.id,
                     details={"error": job.error[:200], "attempt": attempt})
        db.session.commit()
        raise
    db.session.commit()
    return job
