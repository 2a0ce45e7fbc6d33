"""Where the benches write their figures: a section of docs/PERFORMANCE.md each."""
from __future__ import annotations

from pathlib import Path

PERFORMANCE_MD = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"


def append_to_section(section: str, lines: list[str]) -> None:
    """Add `lines` at the end of the `section` heading's section (made at the end of the file
    if missing), before the next '## ' heading, so runs stay under their own bench."""
    content = PERFORMANCE_MD.read_text()
    if section not in content:
        content = content.rstrip("\n") + f"\n\n{section}\n"
    start = content.index(section)
    following = content.find("\n## ", start + len(section))
    end = len(content) if following == -1 else following + 1
    block = content[start:end].rstrip("\n") + "\n\n" + "\n".join(lines).strip("\n") + "\n"
    PERFORMANCE_MD.write_text(content[:start] + block + ("\n" + content[end:] if end < len(content) else ""))
