"""`flask demo` (being written)."""
from __future__ import annotations

import click


@click.command("demo")
def demo_cli() -> None:
    """Create the demo township and users."""
