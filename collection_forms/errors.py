"""The one error a broken definition or code table raises."""
from __future__ import annotations


class FormDefinitionError(Exception):
    """A form definition or code table that cannot be used. The message names the file, the
    section and field where there is one, and the problem, so whoever edits the YAML can fix
    it without reading code."""
