"""Open a clerk's file as a table: CSV (UTF-8 with or without BOM, GBK/GB18030, gzip) or
XLSX (openpyxl read-only), find its header row and stream its rows.

open_table() reads the whole file once before returning (file hash, encoding, gzip
integrity, no NUL bytes), in constant memory, so that a file that cannot be read raises
UnreadableFile before anything is taken from it. rows() then streams it again.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from exchange.errors import UnreadableFile
from exchange.mapping import known_field

HEADER_SEARCH = 30   # the header is looked for in the first rows that hold anything
CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003)
DELIMITERS = (",", "\t", ";")


@dataclass(frozen=True)
class SourceRow:
    line: int                     # 1-based, as Excel or a text editor numbers it
    values: dict[str, object]     # column -> str (CSV) or cell value (XLSX)


@dataclass
class Table:
    path: Path
    kind: str                     # "csv" or "xlsx"
    columns: list[str]
    header_line: int
    sheet: str | None
    encoding: str | None
    sha256: str
    gzipped: bool = False
    delimiter: str = ","
    _positions: tuple[int, ...] = ()  # cell index of each column in its row

    def rows(self) -> Iterator[SourceRow]:
        """The data rows after the header, empty rows skipped."""
        rows = self._csv_rows() if self.kind == "csv" else self._xlsx_rows()
        columns, positions = self.columns, self._positions
        for line, cells in rows:
            if line <= self.header_line:
                continue
            n = len(cells)
            values = {c: (cells[p] if p < n else None) for c, p in zip(columns, positions)}
            if any(v is not None and v != "" and not (isinstance(v, str) and v.isspace())
                   for v in values.values()):
                yield SourceRow(line, values)

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            with _open_text(self.path, self.gzipped, self.encoding or "utf-8") as text:
                yield from _csv_records(text, self.delimiter)
        except (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error) as e:  # changed since opened
            raise UnreadableFile("io", f"读取文件时出错：{e}", f"error reading the file: {e}") from e

    def _xlsx_rows(self) -> Iterator[tuple[int, tuple]]:
        wb = _load_workbook(self.path)
        try:
            ws = wb[self.sheet]
            ws.reset_dimensions()  # some writers store a wrong size; read what is there
            yield from enumerate(ws.iter_rows(values_only=True), start=1)
        except Exception as e:  # noqa: BLE001 - damage found mid-sheet (openpyxl, zipfile's CRC)
            raise UnreadableFile("not_a_table", f"读取工作表“{self.sheet}”时出错，文件可能已损坏：{e}",
                                 f"error reading the sheet {self.sheet!r}; the file may be damaged: {e}") from e
        finally:
            wb.close()


def open_table(path: str | Path, *, sheet: str | None = None) -> Table:
    """The file's table with its header found; raises UnreadableFile (nothing read)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise UnreadableFile("io", f"无法打开文件{path.name}：{e.strerror or e}",
                             f"cannot open {path.name}: {e.strerror or e}") from e
    if not head:
        raise UnreadableFile("empty", "文件是空的", "the file is empty")
    if head.startswith(OLE_MAGIC):
        raise UnreadableFile("xls", "这是旧版Excel（.xls）文件，请在Excel中另存为.xlsx或CSV后再导入",
                             "this is an old Excel file (.xls); save it as .xlsx or CSV in Excel and import that")
    if head.startswith(ZIP_MAGIC):
        return _open_xlsx(path, sheet)
    return _open_csv(path, gzipped=head.startswith(GZIP_MAGIC))


# ------------------------------------------------------------------ header


def _header(rows: Iterator[tuple[int, list | tuple]]) -> tuple[int, int, list[str], tuple[int, ...]]:
    """(known columns, line, columns, positions) of the row among the first HEADER_SEARCH
    non-empty ones that names the most known columns (the first such on a tie)."""
    best: tuple[int, int, list[str], tuple[int, ...]] = (0, 0, [], ())
    seen = 0
    for line, cells in rows:
        texts = [_header_text(c) for c in cells]
        if not any(texts):
            continue
        seen += 1
        known = {known_field(t) for t in texts if t} - {None}
        if len(known) > best[0]:
            columns, positions = _columns(texts)
            best = (len(known), line, columns, positions)
        if seen >= HEADER_SEARCH:
            break
    return best


def _header_text(cell: object) -> str:
    if cell is None or not isinstance(cell, str):
        return "" if cell is None else str(cell).strip()
    return cell.strip().lstrip("\ufeff").strip()


def _columns(texts: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """Non-empty header cells as columns; a repeated name gets "#2", "#3"."""
    columns: list[str] = []
    positions: list[int] = []
    for i, text in enumerate(texts):
        if not text:
            continue
        name, n = text, 1
        while name in columns:
            n += 1
            name = f"{text}#{n}"
        columns.append(name)
        positions.append(i)
    return columns, tuple(positions)


def _no_header(where: str = "", where_en: str = "") -> UnreadableFile:
    return UnreadableFile(
        "no_header", f"{where}前{HEADER_SEARCH}行中找不到表头：没有一行写着姓名、公民身份号码等已知列名",
        f"no header found{where_en}: none of the first {HEADER_SEARCH} rows names a known column "
        "(姓名/name, 公民身份号码/id_number ...)")


# ------------------------------------------------------------------ CSV


class _HashingReader(io.RawIOBase):
    """Passes a file's bytes on while hashing them (the hash is of the file as stored)."""

    def __init__(self, raw):
        self.raw, self.digest = raw, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def _open_text(path: Path, gzipped: bool, encoding: str) -> io.TextIOWrapper:
    raw = path.open("rb")
    stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    return text


def _csv_records(text, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text, delimiter=delimiter)
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def _scan(path: Path, gzipped: bool) -> tuple[str, str]:
    """(sha256 of the file, encoding): BOM, else strict UTF-8, else GB18030 (a superset of
    GBK), each tried over the whole file in chunks; raises UnreadableFile."""
    candidates = ["utf-8", "gb18030"]
    for attempt, encoding in enumerate(candidates):
        with path.open("rb") as f:
            hashing = _HashingReader(f)
            stream = gzip.GzipFile(fileobj=hashing) if gzipped else hashing
            decoder = None
            line, first, total = 1, True, 0
            try:
                while chunk := stream.read(CHUNK):
                    if first:
                        first = False
                        if chunk.startswith(codecs.BOM_UTF8):
                            encoding = "utf-8-sig"
                        elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                            encoding = "utf-16"
                        decoder = codecs.getincrementaldecoder(encoding)("strict")
                    if b"\x00" in chunk and encoding != "utf-16":
                        raise UnreadableFile("not_a_table", "这不是文本表格文件（含有二进制内容），请导入CSV或Excel（.xlsx）文件",
                                             "this is not a text table (it holds binary data); import a CSV or Excel (.xlsx) file")
                    total += len(chunk)
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as e:
                        line += chunk[: max(e.start, 0)].count(b"\n")
                        raise
                    line += chunk.count(b"\n")
                if decoder is not None:
                    decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                if encoding in ("utf-8", ) and attempt + 1 < len(candidates):
                    continue
                raise UnreadableFile(
                    "encoding", f"无法识别文件的编码：第{line}行附近既不是UTF-8，也不是GBK/GB18030。"
                    "请在Excel中另存为“CSV UTF-8”或.xlsx后再导入",
                    f"cannot tell the file's encoding: near line {line} it is neither UTF-8 nor GBK/GB18030; "
                    "save it as CSV UTF-8 or .xlsx and import that") from None
            except (OSError, EOFError, zlib.error) as e:
                raise UnreadableFile("gzip", f"压缩文件已损坏或不完整：{e}",
                                     f"the compressed file is damaged or incomplete: {e}") from e
            if gzipped:  # the rest of the compressed file (trailer) goes through the hash too
                while hashing.read(CHUNK):
                    pass
            if total == 0:
                raise UnreadableFile("empty", "文件是空的", "the file is empty")
            return hashing.digest.hexdigest(), encoding
    raise AssertionError("unreachable")  # noqa: S101 - the loop returns or raises


def _open_csv(path: Path, gzipped: bool) -> Table:
    sha256, encoding = _scan(path, gzipped)
    best: tuple[int, int, list[str], tuple[int, ...]] = (0, 0, [], ())
    chosen = ","
    for delimiter in DELIMITERS:
        try:
            with _open_text(path, gzipped, encoding) as text:
                found = _header(_csv_records(text, delimiter))
        except csv.Error as e:
            raise UnreadableFile("not_a_table", f"无法按CSV读取：{e}", f"cannot read as CSV: {e}") from e
        if found[0] > best[0]:
            best, chosen = found, delimiter
    if best[0] == 0:
        with _open_text(path, gzipped, encoding) as text:
            if not any(any(c.strip() for c in cells) for _, cells in _csv_records(text, ",")):
                raise UnreadableFile("empty", "文件中没有任何内容", "the file holds nothing")
        raise _no_header()
    _, line, columns, positions = best
    return Table(path, "csv", columns, line, None, encoding, sha256, gzipped, chosen, positions)


# ------------------------------------------------------------------ XLSX


def _load_workbook(path: Path):
    import openpyxl  # imported here: reading a CSV does not need it

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as e:
        raise UnreadableFile("not_a_table", "无法作为Excel（.xlsx）文件打开，文件可能已损坏或不是表格",
                             f"cannot open as an Excel (.xlsx) file; it may be damaged or not a table ({e})") from e
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds on a malformed file
        raise UnreadableFile("not_a_table", "无法作为Excel（.xlsx）文件打开，文件可能已损坏或不是表格",
                             f"cannot open as an Excel (.xlsx) file; it may be damaged or not a table ({e})") from e


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _open_xlsx(path: Path, sheet: str | None) -> Table:
    sha256 = _file_sha256(path)
    wb = _load_workbook(path)
    try:
        names = list(wb.sheetnames)
        if sheet is not None and sheet not in names:
            raise UnreadableFile("no_sheet", f"工作簿中没有名为“{sheet}”的工作表（有：{'、'.join(names)}）",
                                 f"the workbook has no sheet {sheet!r} (it has {', '.join(names)})")
        best: tuple[int, int, list[str], tuple[int, ...]] = (0, 0, [], ())
        chosen = None
        for name in [sheet] if sheet is not None else names:
            ws = wb[name]
            if not hasattr(ws, "iter_rows"):  # a chart sheet
                continue
            ws.reset_dimensions()
            try:
                found = _header(enumerate(ws.iter_rows(values_only=True), start=1))
            except Exception as e:  # noqa: BLE001 - a malformed sheet: cannot read it
                raise UnreadableFile("not_a_table", f"无法读取工作表“{name}”：{e}",
                                     f"cannot read the sheet {name!r}: {e}") from e
            if found[0] > best[0]:
                best, chosen = found, name
    finally:
        wb.close()
    if chosen is None:
        if sheet is not None:
            raise _no_header(f"工作表“{sheet}”", f" in the sheet {sheet!r}")
        raise _no_header("各工作表", " in any sheet")
    _, line, columns, positions = best
    return Table(path, "xlsx", columns, line, chosen, None, sha256, _positions=positions)


def cell_text(value: object) -> str:
    """A cell as text, as a clerk would read it: 12.0 -> "12", a date -> 1985-03-02."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()
