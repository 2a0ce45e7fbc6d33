"""Form definitions and code tables as data, with their loader. No Flask, nothing from `app`.

The household registration form arrives with the household-registration issue; this
package exists now so that the import rules (tests/test_layout.py) hold from the start.
"""
