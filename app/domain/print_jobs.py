"""Print jobs: what a clerk asks for, and the steps the task queue carries out.

A job never renders inside a web request: the request records it (queued) and the task queue
(app.jobs, through app.runs, which owns the transactions) runs it step by step, committing
after each step so that the clerk sees progress and a crash leaves the finished books in
place. Files go to PRINT_PATH, named by job. This module flushes and never commits.
"""
from __future__ import annotations

import datetime as dt
import getpass
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

import printing
from app.domain import audit, books, scope, settings
from app.domain.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import (JOB_TRANSITIONS, AdminUnit, BookSlot, PrintJob, PrintJobKind, PrintJobState, User,
                        utcnow)

PAGE_SIZES = ("A4", "A5")


@dataclass(frozen=True)
class Step:
    """One file of a job: its name for the clerk, and how to render it."""
    name: str
    render: Callable[[], tuple[bytes, list[BookSlot]]]  # PDF bytes, and the slots it prints


def request_job(actor: User, village: AdminUnit, kind: PrintJobKind, *, book_no: int | None = None,
                card_no: str | None = None, page_size: str = "A4") -> PrintJob:
    """Record a print job (flushed, not committed); the caller enqueues it after the commit."""
    try:
        printing.check_environment()  # a missing CJK font or subsetter: refuse, never print boxes
    except printing.PrintingUnavailable as error:
        raise Invalid(str(_l("Printing is not available on this server: %(reason)s", reason=str(error))))
    if page_size not in PAGE_SIZES:
        raise Invalid(str(_l("Paper size: choose A4 or A5.")))
    # A village is placed in books when it is first printed; later households go at the end.
    books.assign_slots(actor, village)
    household_id = None
    if kind in (PrintJobKind.book, PrintJobKind.changed):
        if book_no is None or book_no not in books.book_numbers(village):
            raise Invalid(str(_l("Book: %(village)s has no book %(book_no)s.", village=village.name,
                                 book_no=book_no if book_no is not None else "")))
        if kind == PrintJobKind.changed and not books.changed_slots(village, book_no):
            raise Invalid(str(_l("Book %(book_no)s: no card changed since it was printed.", book_no=book_no)))
    elif kind == PrintJobKind.card:
        if not card_no or not card_no.isdigit() or len(card_no) > 4:
            raise Invalid(str(_l("Card number: enter the card's 4-digit number.")))
        slot = books.slot_for_card(village, card_no.zfill(4))
        household_id, book_no = slot.household_id, slot.book_no
    total = len(books.book_numbers(village)) if kind == PrintJobKind.village else 1
    # Refused at once, not as a failed job later: a card whose data no longer has its hash.
    books.require_printable(
        [slot] if kind == PrintJobKind.card else books.changed_slots(village, book_no)
        if kind == PrintJobKind.changed else books.slots_of(village, book_no))
    job = PrintJob(kind=kind.value, village_id=village.id, book_no=book_no, household_id=household_id,
                   page_size=page_size, state=PrintJobState.queued.value, total_steps=max(total, 1),
                   requested_by_id=actor.id if actor else None, created_at=utcnow())
    db.session.add(job)
    db.session.flush()
    audit.record("print.request", actor=actor, object_type="print_job", object_id=job.id,
                 details={"kind": kind.value, "village": village.code, "book_no": book_no,
                          "household_id": str(household_id) if household_id else None, "page_size": page_size})
    return job


def get_job(actor: User, job_id: int) -> PrintJob:
    job = db.session.get(PrintJob, job_id)
    if job is None or not scope.can(actor, "card.print", job.village):
        raise NotFound(str(_l("No such print job.")))
    return job


def recent_jobs(village: AdminUnit, limit: int = 10) -> list[PrintJob]:
    return list(db.session.scalars(select(PrintJob).where(PrintJob.village_id == village.id)
                                   .order_by(PrintJob.id.desc()).limit(limit)))


def requeue_stale(*, stale_after: dt.timedelta, max_attempts: int,
                  unsent_after: dt.timedelta = dt.timedelta(minutes=2)) -> list[int]:
    """The jobs to hand to the task queue again (flushed, not committed; enqueue after the commit):

    - queued for longer than `unsent_after`: recorded but never handed to the queue (the web
      worker died between its commit and the enqueue, or the queue's storage was lost);
    - running with no heartbeat for `stale_after`: their consumer died (killed, out of memory,
      the machine restarted). Each goes back to queued, or, once it has been claimed
      `max_attempts` times, is failed with a message the clerk reads on the job's page.

    Each move is a conditional update on the heartbeat: a consumer that is still alive (it
    beat meanwhile) keeps its job."""
    now = utcnow()
    cutoff = now - stale_after
    unsent = list(db.session.scalars(select(PrintJob.id).where(
        PrintJob.state == PrintJobState.queued.value, PrintJob.created_at < now - unsent_after)))
    again = []
    stale = db.session.execute(select(PrintJob.id, PrintJob.attempts, PrintJob.requested_by_id).where(
        PrintJob.state == PrintJobState.running.value, PrintJob.heartbeat_at < cutoff)
        .order_by(PrintJob.id)).all()
    for job_id, attempts, requested_by in stale:
        give_up = attempts >= max_attempts
        to = PrintJobState.failed if give_up else PrintJobState.queued
        if to not in JOB_TRANSITIONS[PrintJobState.running]:  # the table and this code disagree
            raise RuntimeError(f"print job: running -> {to.value} is not in JOB_TRANSITIONS")
        values: dict = {"state": to.value}
        if give_up:
            values.update(finished_at=now, error=str(_l(
                "The printing stopped %(n)s times before the job was done (the print service was "
                "stopped or ran out of memory). Print it again; if it stops again, tell the administrator.",
                n=attempts)))
        moved = db.session.execute(update(PrintJob).where(
            PrintJob.id == job_id, PrintJob.state == PrintJobState.running.value, PrintJob.attempts == attempts,
            PrintJob.heartbeat_at < cutoff).values(**values)).rowcount
        if not moved:
            continue  # its consumer beat meanwhile, or another requeue got there first
        audit.record("print.failed" if give_up else "print.requeued", actor=requested_by, object_type="print_job",
                     object_id=job_id, details={"attempts": attempts, "stale_after_s": stale_after.total_seconds()})
        if not give_up:
            again.append(job_id)
    db.session.flush()
    return sorted(set(unsent) | set(again))


def move(job: PrintJob, to: PrintJobState) -> None:
    if to not in JOB_TRANSITIONS[PrintJobState(job.state)]:
        raise Conflict(f"print job {job.id}: {job.state} -> {to.value} is not a move a job makes")
    job.state = to.value
    if to == PrintJobState.running:
        job.started_at = utcnow()
    elif to in (PrintJobState.done, PrintJobState.failed):
        job.finished_at = utcnow()


def imprint(job: PrintJob) -> printing.Imprint:
    """The foot line of every page: who asked for the job and when it is rendered (local
    time), so that a leaked page is traced to its clerk. A job of `flask print` has no user:
    it names the command line and the operating-system account that ran it."""
    if job.requested_by is not None:
        name = job.requested_by.name
    else:
        try:
            account = getpass.getuser()
        except (OSError, KeyError):  # no name for this uid (a bare container)
            account = str(os.getuid())
        name = f"命令行（{account}）"
    zone = settings.current().timezone
    return printing.Imprint(name, utcnow().astimezone(zone))


def steps(job: PrintJob) -> Iterator[Step]:
    """The files of a job, rendered one at a time."""
    village, size = job.village, job.page_size
    stamp = imprint(job)
    kind = PrintJobKind(job.kind)
    if kind == PrintJobKind.village:
        numbers = books.book_numbers(village)
    elif kind == PrintJobKind.book:
        numbers = [job.book_no]
    else:
        numbers = []
    for number in numbers:
        yield Step(f"{village.name}-第{number}册.pdf", lambda n=number: _render_book(village, n, size, stamp))
    if kind == PrintJobKind.changed:
        yield Step(f"{village.name}-第{job.book_no}册-换页.pdf",
                   lambda: _render_cards(books.changed_slots(village, job.book_no), size, stamp))
    elif kind == PrintJobKind.card:
        # The household's slot in this village's book: one that moved away has one in each village.
        slot = db.session.scalar(select(BookSlot).where(BookSlot.household_id == job.household_id,
                                                        BookSlot.village_id == job.village_id))
        yield Step(f"{village.name}-户卡{books.slot_card_no(slot)}.pdf", lambda: _render_cards([slot], size, stamp))


def _render_book(village: AdminUnit, book_no: int, page_size: str,
                 stamp: printing.Imprint) -> tuple[bytes, list[BookSlot]]:
    book = books.book_data(village, book_no)
    return printing.render_book(book, page_size=page_size, imprint=stamp), books.slots_of(village, book_no)


def _render_cards(slots: list[BookSlot], page_size: str, stamp: printing.Imprint) -> tuple[bytes, list[BookSlot]]:
    return printing.render_cards(books.slot_cards(slots), page_size=page_size, imprint=stamp), slots


def file_path(job: PrintJob, index: int) -> Path:
    return settings.current().print_path / f"job-{job.id}-{index + 1}.pdf"


def render_step(step: Step) -> tuple[bytes, list[BookSlot], dict[int, str]]:
    """Render one file (only reads): the PDF, the slots it prints and their states, taken with
    it so that a card changed meanwhile still counts as changed since printed. The caller runs
    it in a read-only transaction of its own (app.runs): on SQLite it must not hold the write
    lock for the seconds a book takes, while collectors are saving."""
    pdf, printed = step.render()
    return pdf, printed, books.slot_states(printed)


def store_step(job: PrintJob, index: int, step: Step, pdf: bytes, printed: list[BookSlot],
               states: dict[int, str]) -> None:
    """Store a rendered file and record what the bound book now holds (flushed)."""
    path = file_path(job, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
    partial.write_bytes(pdf)
    partial.replace(path)  # a file is either whole or absent
    books.mark_printed(printed, states)
    job.files = [*job.files, {"name": step.name, "file": path.name, "bytes": len(pdf)}]
    job.done_steps = index + 1
    db.session.flush()


def delete_old_files(keep_days: int) -> int:
    """Delete the files of jobs finished more than `keep_days` ago (they hold personal data;
    the books can be printed again). The job rows stay, as the record of what was printed.
    Returns how many files were deleted (flushed, not committed)."""
    folder = settings.current().print_path
    old = db.session.scalars(select(PrintJob).where(
        PrintJob.finished_at < utcnow() - dt.timedelta(days=keep_days)))
    deleted = 0
    for job in (j for j in old if j.files):
        for item in job.files:
            path = folder / item["file"]
            if path.is_file():
                path.unlink()
                deleted += 1
        audit.record("print.files_deleted", object_type="print_job", object_id=job.id,
                     details={"files": len(job.files)})
        job.files = []
    db.session.flush()
    return deleted


def job_file(actor: User, job_id: int, index: int) -> tuple[Path, str]:
    """The stored file and its download name; audited as a download of personal data."""
    job = get_job(actor, job_id)
    if not 0 <= index < len(job.files):
        raise NotFound(str(_l("No such file.")))
    item = job.files[index]
    path = settings.current().print_path / item["file"]
    if not path.is_file():
        raise NotFound(str(_l("The file is no longer stored; print it again.")))
    audit.record("print.download", actor=actor, object_type="print_job", object_id=job.id,
                 details={"file": item["name"]})
    return path, item["name"]
