"""Lists in and out: reading the files clerks have (CSV in any of their encodings, gzip,
XLSX), proposing which column holds which field, checking every value, and the files given
back to people (a list of problems, blank templates). Pure Python: no Flask, no database.
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
