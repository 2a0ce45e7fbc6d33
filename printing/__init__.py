"""Card and book rendering from plain data (WeasyPrint + qrcode). No Flask, nothing from `app`.

The card and book templates arrive with the printing issue; this package exists now so
that the import rules (tests/test_layout.py) hold from the start.
"""
