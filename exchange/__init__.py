"""Lists in and out (issue 16): reading the files clerks have, proposing which column holds
which field, checking every value with the form's own rules, and the files given back to
people (a list of problems, blank templates). Pure Python: no Flask, no database; the
importer (app/domain/lists.py), the CLI and the web pages build on it.

Use:
    table = open_table(path)                       # raises UnreadableFile, nothing read
    proposal = propose_mapping(table.columns, "police")
    proposal = proposal.with_overrides({"身份证号": "id_number"})   # the user's corrections
    if proposal.complete:
        for record in read_records(table, proposal.fields, "police"):
            record.values, record.raw, record.extras, record.problems, record.refused
            row_hash(record)                       # the same row in any file: the same hash

Files (tables.py)
- CSV: the encoding is found over the whole file before anything is returned: a UTF-8 BOM
  (utf-8-sig) or UTF-16 BOM (Excel's "Unicode text"), else strict UTF-8, else GB18030 (a
  superset of GBK, and of GB2312: Table.encoding says "gb18030" for a GBK file). A file that
  is none of them is UnreadableFile("encoding") naming the line near the first bad byte.
  Gzip is told by its magic bytes, not the name. The delimiter is the one of ",", tab, ";"
  whose header names the most known columns. The scan also hashes the file (Table.sha256,
  of the bytes as stored, compressed for .gz) and refuses NUL bytes (binary files). Reading
  is streamed in constant memory: the 400k-row police.csv.gz of ../shared/linkage/full
  opens (the scan) in 0.4 s and reads through read_records in about 8 s at 32 MB peak RSS
  on this 2-core machine.
- XLSX: openpyxl read-only, data_only (cached formula results). Every sheet's first 30
  non-empty rows are searched for the header: the row that names the most known columns
  (title rows and merged title cells above it are skipped); the sheet whose header names the
  most wins (a sheet of notes names none). `sheet=` picks one. Cells come as Excel stores
  them (str, int, float, datetime). .xls (OLE2) is refused with advice to save as .xlsx.
  openpyxl reads about 5k rows of 5 columns a second here; a file written without a
  <dimension> element (openpyxl's write-only mode) is parsed once more when opened.
  Damage found mid-sheet (a bad CRC, broken XML) raises UnreadableFile from rows(): the
  importer reads in one transaction and keeps nothing of such a file.
- Line numbers are those the clerk sees: the Excel row number, or the text line where a CSV
  record starts (a quoted value may hold line breaks). Rows with nothing in them are skipped.
- Repeated header names get "#2", "#3"; header cells left empty are not columns.

Mapping (mapping.py)
- FIELDS, SOURCES, required_fields(source): name always; death_date for deaths, birth_date
  for births. SYNONYMS lists the names recognised per field (Chinese, English, the linkage
  files' names); headers are compared after NFKC, without spaces, "*" marks, a trailing
  colon, and case, then without a trailing "(…)" note.
- Two columns naming one field are `ambiguous` and neither is used until the user chooses
  (with_overrides or --map COLUMN=FIELD, parsed by parse_map_option); a required field not
  found is `missing`; columns not mapped are `extras`, kept with every record.

Values (values.py, records.py)
- Dates: 1985-03-02, 1985/3/2, 1985.03.02 (one separator throughout, optional time part),
  19850302, 1985年3月2日 (full-width digits too), Excel date cells. A date that does not
  exist is "date.impossible"; a year and month only is "date.incomplete"; anything else
  (03/02/1985, an Excel serial number without date format) is "date.format": read as
  neither day-first nor month-first, not guessed.
- ID numbers (id_number, mother_id_number): collection_forms.id_number.parse_id_number, the
  form's validator (stripped, full-width to ASCII, x to X; its id.length, id.format,
  id.checksum, id.date errors). A numeric cell or text like "4.10222E+17" is
  "id.number_in_excel": Excel has lost digits, nothing is guessed. Excel's text marks (a
  leading ' or ="…") are taken off. The region-code warning of the form is not reported (it
  flags real numbers of abolished counties and is for the form's user to confirm). A valid
  number that disagrees with the row's birth date or sex is flagged on id_number
  ("id.birth_date_mismatch", "id.sex_mismatch") with both values kept: which one is wrong is
  for a person to find out.
- Sex: 1/2, 男/女, 男性/女性, M/F, male/female -> "1"/"2". Relationship: a GB/T 4761 code
  ("02", or "2" when Excel dropped the zero) or its words from
  collection_forms/code_tables/relationship.csv, plus the usual words (户主, 本人, 妻, 夫,
  之子, 户主之女, 儿媳, 爷爷 …) -> the two-digit code. Ethnicity: GB 3304 code or name
  (汉族 or 汉). Text fields: collection_forms.characters.clean_text (control and bidi
  characters removed, "text.refused_characters" naming them by code point); numbers in
  text fields lose Excel's ".0" (103185981.0 -> "103185981"; a card number 0001 stored as a
  number comes back as "1").
- A wrong value: `.values[field]` None, `.raw[field]` as written, a RowProblem (not refused).
  A row without a name is refused (RowProblem refused=True, "name.missing"); a required date
  left empty is flagged ("death_date.missing"), the row is kept.
- row_hash: SHA-256 of the canonical JSON of the non-empty mapped raw values, so the same
  row in a CSV or an XLSX, in any column order, hashes the same; unmapped columns do not
  count.

Files for people (reports.py)
- write_problems_xlsx(problems, stream): 行号, 列, 项目, 内容, 原因, 处理 (整行未导入 or
  已导入，需核对), one row per problem, write-only (any number of rows).
- blank_template(source, fmt): "xlsx" (Chinese headers, * on required ones, ID and other
  number-like columns formatted as text so that Excel keeps ID numbers whole) or "csv"
  (UTF-8 with BOM, so that Excel opens it as UTF-8). Both read back through open_table and
  propose_mapping as a complete mapping with no extras.
"""
from exchange.errors import MappingError, RowProblem, UnreadableFile
from exchange.mapping import (
    FIELDS, LABELS, SOURCES, Proposal, known_field, parse_map_option, propose_mapping, required_fields,
)
from exchange.records import Record, read_records, row_hash
from exchange.reports import blank_template, template_headers, write_problems_xlsx
from exchange.tables import SourceRow, Table, open_table

__all__ = [
    "FIELDS", "LABELS", "SOURCES", "MappingError", "Proposal", "Record", "RowProblem", "SourceRow",
    "Table", "UnreadableFile", "blank_template", "known_field", "open_table", "parse_map_option",
    "propose_mapping", "read_records", "required_fields", "row_hash", "template_headers",
    "write_problems_xlsx",
]
