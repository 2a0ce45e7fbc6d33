"""The rules of the work. Domain functions flush, never commit: the caller (a view or a
CLI command) commits once, so a change, its history and its audit entry land together."""
