"""QR codes as one SVG path: qrcode's own SVG output costs WeasyPrint about 2 s a book to draw
(PRINTING.md); one path of a short stroke per run of dark modules costs almost nothing."""
from __future__ import annotations

import base64
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white on each side, as the standard asks


@dataclass(frozen=True)
class QRImage:
    data_uri: str
    modules: int  # across, quiet zone included: the printed size is modules × module size


def qr_image(text: str) -> QRImage:
    """A QR code of `text` (error correction M) as an SVG data URI."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # the quiet zone is included
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                # A stroke 1 module wide along the middle of the row: two path commands a run,
                # where a filled rectangle needs five (WeasyPrint parses each one).
                runs.append(f"M{start} {y}.5h{x - start}")
            else:
                x += 1
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
           f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
           f'<path stroke="#000" stroke-width="1" d="{"".join(runs)}"/></svg>')
    return QRImage("data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(), size)
