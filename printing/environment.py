"""Start-up check of what printing needs from the system (DESIGN.md §7: a missing font is an
error when printing starts, never empty boxes on paper)."""
from __future__ import annotations

import functools

from printing.errors import PrintingUnavailable

FONT_FAMILY = "Noto Sans CJK SC"


def check_environment() -> None:
    """Raise PrintingUnavailable unless WeasyPrint loads, fontconfig finds Noto Sans CJK SC and
    WeasyPrint found libharfbuzz-subset. The answer is cached for the life of the process."""
    problem = _problem()
    if problem:
        raise PrintingUnavailable(problem)


@functools.cache
def _problem() -> str | None:
    try:
        from weasyprint.text import ffi
    except OSError as error:  # WeasyPrint dlopens Pango, HarfBuzz and fontconfig at import
        return (f"WeasyPrint cannot load its system libraries ({error}); "
                "install the Debian packages libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b")
    if ffi.harfbuzz_subset is None:
        # Without it WeasyPrint falls back, silently, to a subsetter that walks all ~65,000
        # glyphs of the CJK font: a book takes twice as long (PRINTING.md).
        return ("WeasyPrint did not find libharfbuzz-subset; install the Debian package "
                "libharfbuzz-subset0")
    if not _fontconfig_has(FONT_FAMILY):
        return (f"fontconfig does not find the font {FONT_FAMILY!r}; install the Debian package "
                "fonts-noto-cjk (smaller CJK fonts lack rare name characters such as 䶮 and 𠮷)")
    return None


def _fontconfig_has(family: str) -> bool:
    """Whether fontconfig's best match for `family` is that family itself (it always answers
    with *some* font, e.g. DejaVu, when the family is missing). Asked through WeasyPrint's own
    binding, so it is the fontconfig library that Pango will use."""
    from weasyprint.text.ffi import ffi, fontconfig

    config = fontconfig.FcInitLoadConfigAndFonts()
    pattern = fontconfig.FcPatternCreate()
    try:
        fontconfig.FcPatternAddString(pattern, b"family", family.encode())
        fontconfig.FcConfigSubstitute(config, pattern, fontconfig.FcMatchPattern)
        fontconfig.FcDefaultSubstitute(pattern)
        match = fontconfig.FcFontMatch(config, pattern, ffi.new("FcResult *"))
        if match == ffi.NULL:
            return False
        try:
            names, value, n = set(), ffi.new("FcChar8 **"), 0
            while fontconfig.FcPatternGetString(match, b"family", n, value) == fontconfig.FcResultMatch:
                names.add(ffi.string(value[0]).decode())
                n += 1
            return family in names
        finally:
            fontconfig.FcPatternDestroy(match)
    finally:
        fontconfig.FcPatternDestroy(pattern)
        fontconfig.FcConfigDestroy(config)
