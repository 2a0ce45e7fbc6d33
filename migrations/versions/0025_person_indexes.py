"""person: drop the indexes no query uses (name + birth date, birth date, household state);
each is written for every member of every saved version

Revision ID: 0025_person_indexes
Revises: 0020_quality
Create Date: 2026-12-08 02:00:00.000000
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025_person_indexes'
down_revision = '0020_quality'
branch_labels = None
depends_on = None

DROPPED = (('ix_person_name_birth_date', ['name', 'birth_date']),
           ('ix_person_birth_date', ['birth_date']),
           ('ix_person_household_state', ['household_state']))


def upgrade():
    for name, _columns in DROPPED:
        op.drop_index(name, table_name='person')


def downgrade():
    for name, columns in DROPPED:
        op.create_index(name, 'person', columns)
