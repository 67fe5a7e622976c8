"""membership: copies of the person's searched columns, kept by triggers

Revision ID: c4e2a9d17f30
Revises: b1793dd7ca70
Create Date: 2026-12-03 16:40:00

The member list's text search filters, sorts and counts memberships in one trigram scan instead of
probing the memberships of every matching person. The trigger statements are written out here (not
imported from the models) so this migration keeps doing what it did when the models change.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e2a9d17f30'
down_revision = 'b1793dd7ca70'
branch_labels = None
depends_on = None

POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION membership_copy_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT last_name, first_name, birth_date, search_text
      INTO NEW.person_last_name, NEW.person_first_name, NEW.person_birth_date, NEW.person_search_text
      FROM person WHERE id = NEW.person_id;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER membership_copy_person BEFORE INSERT OR UPDATE OF person_id ON membership_membership
FOR EACH ROW EXECUTE FUNCTION membership_copy_person()""",
    """CREATE OR REPLACE FUNCTION membership_follow_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE membership_membership
       SET person_last_name = NEW.last_name, person_first_name = NEW.first_name,
           person_birth_date = NEW.birth_date, person_search_text = NEW.search_text
     WHERE person_id = NEW.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER membership_follow_person AFTER UPDATE OF last_name, first_name, birth_date, search_text
ON person FOR EACH ROW
WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name
      OR OLD.birth_date IS DISTINCT FROM NEW.birth_date OR OLD.search_text IS DISTINCT FROM NEW.search_text)
EXECUTE FUNCTION membership_follow_person()""",
]
_SQLITE_COPY = """UPDATE membership_membership SET
    person_last_name = (SELECT last_name FROM person WHERE id = NEW.person_id),
    person_first_name = (SELECT first_name FROM person WHERE id = NEW.person_id),
    person_birth_date = (SELECT birth_date FROM person WHERE id = NEW.person_id),
    person_search_text = (SELECT search_text FROM person WHERE id = NEW.person_id)
  WHERE id = NEW.id;"""
SQLITE = [
    f"CREATE TRIGGER membership_copy_person AFTER INSERT ON membership_membership BEGIN {_SQLITE_COPY} END",
    f"""CREATE TRIGGER membership_copy_person_moved AFTER UPDATE OF person_id ON membership_membership
BEGIN {_SQLITE_COPY} END""",
    """CREATE TRIGGER membership_follow_person AFTER UPDATE OF last_name, first_name, birth_date, search_text ON person
BEGIN UPDATE membership_membership
   SET person_last_name = NEW.last_name, person_first_name = NEW.first_name,
       person_birth_date = NEW.birth_date, person_search_text = NEW.search_text
 WHERE person_id = NEW.id; END""",
]
BACKFILL = """UPDATE membership_membership SET
    person_last_name = (SELECT last_name FROM person WHERE person.id = membership_membership.person_id),
    person_first_name = (SELECT first_name FROM person WHERE person.id = membership_membership.person_id),
    person_birth_date = (SELECT birth_date FROM person WHERE person.id = membership_membership.person_id),
    person_search_text = (SELECT search_text FROM person WHERE person.id = membership_membership.person_id)"""


def upgrade() -> None:
    with op.batch_alter_table('membership_membership') as batch:
        batch.add_column(sa.Column('person_last_name', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('person_first_name', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('person_birth_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('person_search_text', sa.Text(), nullable=True))
    op.execute(BACKFILL)
    op.create_index('ix_membership_membership_person_search_text_trgm', 'membership_membership',
                    ['person_search_text'], unique=False, postgresql_using='gin',
                    postgresql_ops={'person_search_text': 'gin_trgm_ops'})
    op.create_index('ix_membership_membership_person_name', 'membership_membership',
                    ['person_last_name', 'person_first_name', 'id'], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS membership_follow_person ON person")
        op.execute("DROP TRIGGER IF EXISTS membership_copy_person ON membership_membership")
        op.execute("DROP FUNCTION IF EXISTS membership_follow_person()")
        op.execute("DROP FUNCTION IF EXISTS membership_copy_person()")
    elif dialect == "sqlite":
        for name in ("membership_follow_person", "membership_copy_person", "membership_copy_person_moved"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index('ix_membership_membership_person_name', table_name='membership_membership')
    op.drop_index('ix_membership_membership_person_search_text_trgm', table_name='membership_membership',
                  postgresql_using='gin', postgresql_ops={'person_search_text': 'gin_trgm_ops'})
    with op.batch_alter_table('membership_membership') as batch:
        batch.drop_column('person_search_text')
        batch.drop_column('person_birth_date')
        batch.drop_column('person_first_name')
        batch.drop_column('person_last_name')
