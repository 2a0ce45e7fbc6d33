"""Names as search and matching read them. The functions are pure and live in
matching.names, so that the matcher (a package without `app`) builds its records with the
same normalisation as the person register; this module keeps the app's import path."""
from matching.names import (  # noqa: F401
    COMPOUND_SURNAMES, NAME_NORM_LENGTH, SURNAME_READINGS, given_name, name_keys, normalise_name,
)
