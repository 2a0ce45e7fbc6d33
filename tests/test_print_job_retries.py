"""Print jobs run once and are not lost (both databases): the claim-once update against a
task sent twice and two consumers at once (real threads, each with its own database session),
a consumer that dies mid-job (its job is queued again after PRINT_JOB_STALE_AFTER and
finishes), and the limit of attempts (then the job fails with a message the clerk reads).

Renders are real WeasyPrint books; the counting wrapper only counts and calls through.
"""
from __future__ import annotations

import datetime as dt
import threading
from html import unescape

import pytest
from sqlalchemy import func, select

import printing
from app import jobs
from app import runs
from app.domain import print_jobs
from app.domain import registration as reg
from app.extensions import db
from app.models import AuditEntry, PrintJob, PrintJobKind
from tests.support.households import TODAY, family


class ConsumerDied(BaseException):
    """What a killed consumer looks like to the job: it stops between two statements and never
    records anything (a BaseException, like the SystemExit of a killed thread, passes every
    `except Exception`)."""


# The test's session ends each read (commit): on SQLite an open transaction holds the one
# write lock, and the task, in a session of its own as in a consumer, would wait for it.

def audits(action: str) -> int:
    n = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
    db.session.commit()
    return n


@pytest.fixture
def village_job(app, units, make_user):
    """A queued job for the two books of village A (one household a book), recorded by a clerk."""
    app.config["BOOK_SIZE"] = 1
    collector = make_user("collector", units["A"], username="collector_a")
    clerk = make_user("clerk", units["T1"], username="clerk_t1", name="打印员甲")
    for seq in (1, 2):
        reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=seq), today=TODAY)
    db.session.commit()
    job = print_jobs.request_job(clerk, units["A"], PrintJobKind.village)
    job_id, steps = job.id, job.total_steps
    db.session.commit()
    assert steps == 2
    return job_id


@pytest.fixture
def renders(monkeypatch):
    """Counts the books rendered (the real renderer does the work)."""
    real, lock, seen = printing.render_book, threading.Lock(), []

    def counting(book, **kwargs):
        with lock:
            seen.append(book.book_no)
        return real(book, **kwargs)

    monkeypatch.setattr(printing, "render_book", counting)
    return seen


def later(monkeypatch, seconds: float) -> None:
    """Move the clock of app.domain.print_jobs forward: the stale time has passed."""
    real = print_jobs.utcnow
    monkeypatch.setattr(print_jobs, "utcnow", lambda: real() + dt.timedelta(seconds=seconds))


def crash_after_first_file(job_id: int) -> None:
    def die(done, total):
        raise ConsumerDied

    with pytest.raises(ConsumerDied):
        runs.run_print_job(job_id, on_step=die)
    db.session.rollback()  # the dead consumer's session is gone with it


def reload(job_id: int) -> PrintJob:
    db.session.expire_all()
    job = db.session.get(PrintJob, job_id)
    db.session.expunge(job)  # its columns stay readable after the commit
    db.session.commit()
    return job


def test_a_job_sent_twice_runs_once(app, village_job, renders):
    jobs.run_print_job(village_job)  # the queue runs tasks at once here (tests/conftest.py)
    jobs.run_print_job(village_job)  # sent again: a requeue, or a retry of the task
    job = reload(village_job)
    assert job.state == "done" and job.attempts == 1
    assert sorted(renders) == [1, 2], "each book rendered once"
    assert len(job.files) == 2 and audits("print.done") == 1


def test_two_consumers_at_once_claim_the_job_once(app, village_job, renders):
    start = threading.Barrier(2)
    results, errors = [], []

    def consumer():
        try:
            with app.app_context():  # its own database session, as in a consumer's worker
                start.wait(timeout=10)
                job = runs.run_print_job(village_job)
                results.append(job.state)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    assert len(results) == 2
    job = reload(village_job)
    assert job.state == "done" and job.attempts == 1
    assert sorted(renders) == [1, 2], f"books rendered: {renders}"
    assert audits("print.done") == 1


def test_a_crashed_consumers_job_is_retried_after_the_stale_time_and_finishes(app, village_job, renders,
                                                                              monkeypatch):
    app.config["PRINT_JOB_STALE_AFTER"] = 600
    crash_after_first_file(village_job)
    job = reload(village_job)
    assert job.state == "running" and job.done_steps == 1

    # Within the stale time its consumer may still be at work: the job is left alone.
    jobs.requeue_stale_print_jobs()  # the periodic task (at once here)
    assert reload(village_job).state == "running" and audits("print.requeued") == 0

    later(monkeypatch, 601)
    jobs.requeue_stale_print_jobs()  # queued again, and run by the (immediate) queue
    job = reload(village_job)
    assert job.state == "done", job.error
    assert job.attempts == 2 and job.done_steps == 2 and len(job.files) == 2
    assert sorted(renders) == [1, 1, 2], "the retry renders the job from the start"
    assert audits("print.requeued") == 1 and audits("print.done") == 1


def test_a_live_consumer_that_was_taken_for_dead_stops_and_writes_nothing(app, village_job, renders, monkeypatch):
    """It beat too late: its job was claimed again by another consumer, which owns it now."""
    attempt = runs.claim_print_job(village_job)
    later(monkeypatch, 601)
    assert print_jobs.requeue_stale(stale_after=dt.timedelta(seconds=600), max_attempts=3) == [village_job]
    db.session.commit()
    assert runs.claim_print_job(village_job) == attempt + 1  # the second consumer
    assert not runs.still_ours(village_job, attempt)
    assert runs.still_ours(village_job, attempt + 1)
    db.session.rollback()
    assert renders == []


def test_after_the_attempts_limit_the_job_fails_with_a_message_for_the_clerk(app, village_job, renders, monkeypatch,
                                                                             new_client):
    app.config.update(PRINT_JOB_STALE_AFTER=600, PRINT_JOB_MAX_ATTEMPTS=2)

    def die(done, total):
        raise ConsumerDied

    # Every consumer that takes it dies: killed during the first book.
    monkeypatch.setattr(print_jobs, "store_step", lambda *a: die(0, 0))
    crash_after_first_file(village_job)
    later(monkeypatch, 601)
    with pytest.raises(ConsumerDied):
        jobs.requeue_stale_print_jobs()  # queued again: attempt 2, which dies too
    db.session.rollback()
    assert reload(village_job).attempts == 2
    later(monkeypatch, 1202)
    jobs.requeue_stale_print_jobs()
    job = reload(village_job)
    assert job.state == "failed" and job.attempts == 2 and job.finished_at is not None
    assert "2" in job.error and "打印" in job.error, job.error
    assert audits("print.requeued") == 1 and audits("print.failed") == 1
    jobs.requeue_stale_print_jobs()  # a failed job stays failed
    assert reload(village_job).attempts == 2

    clerk = new_client()
    clerk.login("clerk_t1")
    page = unescape(clerk.get(f"/print/jobs/{village_job}").get_data(as_text=True))
    assert job.error in page and "http-equiv=\"refresh\"" not in page
