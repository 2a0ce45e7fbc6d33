"""The task queue for real: a Huey consumer process (as scripts/demo.sh starts it) takes a print
job recorded through the clerk's screen and renders it; the job page shows it done.

Other tests run tasks at once in their own thread (huey.immediate, tests/conftest.py); this one
switches that off, so the web request only records and enqueues the job.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.domain import registration as reg
from app.extensions import db
from app.jobs import huey
from app.models import PrintJob
from tests.support.households import TODAY, family

ROOT = Path(__file__).resolve().parent.parent


def start_consumer(app, tmp_path, **extra_env) -> subprocess.Popen:
    env = {**os.environ, "DOORSTEP_INSTANCE": str(tmp_path), "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "PRINT_PATH": app.config["PRINT_PATH"], "BASE_URL": app.config["BASE_URL"],
           "CARD_KEYS": ",".join(f"{k}:{v}" for k, v in app.config["CARD_KEYS"].items()), "REDIS_URL": "",
           "AUDIT_KEYS": ",".join(f"{k}:{v}" for k, v in app.config["AUDIT_KEYS"].items()), **extra_env}
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "huey_consumer"), "app.jobs.huey", "--workers", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


@pytest.fixture
def real_queue(app, tmp_path, monkeypatch):
    """Huey on SQLite storage in a scratch folder, shared with a consumer process."""
    from huey.storage import SqliteStorage

    monkeypatch.setattr(huey, "immediate", False)
    monkeypatch.setattr(huey, "storage", SqliteStorage(name="doorstep", filename=str(tmp_path / "tasks.sqlite")))
    consumer = start_consumer(app, tmp_path)
    yield consumer
    if consumer.poll() is None:
        os.killpg(consumer.pid, signal.SIGTERM)
        try:
            consumer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(consumer.pid, signal.SIGKILL)


def test_a_consumer_process_renders_a_job_recorded_by_the_web(app, real_queue, units, make_user, new_client):
    collector = make_user("collector", units["A"], username="collector_a")
    make_user("clerk", units["T1"], username="clerk_t1")
    for seq in (1, 2):
        reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=seq), today=TODAY)
    db.session.commit()
    c = new_client()
    c.login("clerk_t1")
    resp = c.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"})
    assert resp.status_code == 302
    job_url = resp.headers["Location"]
    page = c.get(job_url).get_data(as_text=True)
    assert 'http-equiv="refresh"' in page, "the job page refreshes while the job waits"

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = db.session.scalars(select(PrintJob)).one()
        state = job.state
        db.session.rollback()  # end the read: on SQLite an open transaction keeps the consumer waiting
        if state in ("done", "failed"):
            break
        assert real_queue.poll() is None, f"consumer died: {real_queue.stdout.read() if real_queue.stdout else ''}"
        time.sleep(0.3)
    if state != "done":
        os.killpg(real_queue.pid, signal.SIGTERM)
        pytest.fail(f"job {job.state} ({job.error}); consumer said:\n{real_queue.communicate(timeout=20)[0]}")
    page = c.get(job_url).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    pdf = c.get(f"/print/jobs/{job.id}/files/0")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")



def test_a_consumer_killed_mid_job_leaves_it_to_the_next_consumer(app, real_queue, units, make_user, new_client,
                                                                  tmp_path):
    """kill -9 of the consumer while it renders; the next consumer, started after the stale
    time, queues the job again at its start and finishes it."""
    app.config["BOOK_SIZE"] = 1  # slots are placed at the request: four books
    collector = make_user("collector", units["A"], username="collector_a")
    make_user("clerk", units["T1"], username="clerk_t1")
    for seq in (1, 2, 3, 4):
        reg.new_household(collector, unit_id=units["A1"].id, data=family(seq=seq), today=TODAY)
    db.session.commit()
    c = new_client()
    c.login("clerk_t1")
    assert c.post_form(f"/print/villages/{units['A'].id}/jobs", {"kind": "village"}).status_code == 302

    def job_now() -> PrintJob:
        db.session.expire_all()
        job = db.session.scalars(select(PrintJob)).one()
        db.session.expunge(job)
        db.session.rollback()  # end the read: on SQLite an open transaction keeps the consumer waiting
        return job

    deadline = time.monotonic() + 120
    while job_now().state == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(real_queue.pid, signal.SIGKILL)  # the consumer and its render workers
    real_queue.wait(timeout=20)
    job = job_now()
    assert job.state == "running" and job.done_steps < 4, "the job finished before the kill: nothing tested"
    time.sleep(2.5)
    second = start_consumer(app, tmp_path, PRINT_JOB_STALE_AFTER="2")
    try:
        deadline = time.monotonic() + 120
        while (job := job_now()).state not in ("done", "failed") and time.monotonic() < deadline:
            assert second.poll() is None, second.stdout.read() if second.stdout else ""
            time.sleep(0.3)
        assert job.state == "done", job.error
        assert job.attempts == 2 and len(job.files) == 4
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("the consumer test uses process groups")
