"""`flask audit verify|head|mark`: check the keyed chain and the versions' content hashes,
print the head to keep elsewhere, start the keyed part after an upgrade."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.domain import audit, signatures
from app.domain.keyed_chain import Anchor
from app.extensions import db

audit_cli = AppGroup("audit", help="The audit log.")


def _anchor(_ctx, _param, values: tuple[str, ...]) -> list[Anchor]:
    try:
        return [Anchor.parse(v) for v in values]
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@audit_cli.command("verify")
@click.option("--head", "anchors", multiple=True, callback=_anchor, metavar="N:HASH",
              help="A head printed earlier by `flask audit head` (may be given more than once): "
                   "the chain must still reach it with the same hash.")
def verify(anchors: list[Anchor]) -> None:
    """Check every entry's link and keyed hash in order, the anchored heads, and that each
    household version's data still has its content hash (and each signature signs it)."""
    report = audit.verify_chain(anchors)
    failed = False
    if report.ok:
        keys = ", ".join(report.keys_used) or "-"
        click.echo(f"audit chain intact: {report.checked} entries ({report.unkeyed} unkeyed before the "
                   f"marker, {report.keyed} keyed; keys {keys})")
        for anchor in anchors:
            click.echo(f"anchored head {anchor.position} reached with its hash")
    elif report.broken_id is not None:
        click.echo(f"audit chain BROKEN at entry {report.broken_id}: {report.reason} "
                   f"({report.checked} entries before it are intact)", err=True)
        failed = True
    else:
        click.echo(f"audit chain BROKEN: {report.reason} ({report.checked} entries checked)", err=True)
        failed = True
    content = signatures.check_content()
    if content.ok:
        click.echo(f"content hashes intact: {content.versions} versions, {content.signatures} signatures "
                   f"({content.versions_in_chain} and {content.signatures_in_chain} of them as the audit "
                   "log recorded them)")
    else:
        failed = True
        for problem in content.problems:
            click.echo(f"content hash MISMATCH: {problem}", err=True)
        if content.more:
            click.echo(f"... and {content.more} more", err=True)
    if failed:
        sys.exit(1)


@audit_cli.command("head")
def head() -> None:
    """Print the last entry's position and hash, N:HASH, to keep outside the database (print
    it, mail it): `flask audit verify --head N:HASH` then finds a cut-off or rewritten tail."""
    anchor = audit.head()
    if anchor is None:
        click.echo("the audit log is empty", err=True)
        sys.exit(1)
    click.echo(str(anchor))


@audit_cli.command("mark")
def mark() -> None:
    """Start the keyed part of the chain now (after the upgrade that keyed it, the first
    recorded action does so anyway)."""
    audit.record("audit.mark")
    db.session.commit()
    click.echo(f"keyed chain head: {audit.head()}")
