"""Keyword table sorts by difficulty and CPC read an index of the keywords' search entries.

Without an index, a load of the keyword table sorted by difficulty or CPC reads the whole sector and keeps
the top page (a bounded sort): ~35-45 ms on 100,000 keywords, which made a first load of such a view miss
the page target (p95 <= 50 ms at one client). The same two indexes on keywords (dropped by migration 0005)
cost every inserted row: measured as server CPU on 100,000 rows, ~0.45 s on top of ~1.5 s for the other
indexes, which would take an import past 3x a plain COPY. So the sort keys live with the search entries
(keyword_search, migration 0009): those rows are added by the same statement that inserts keywords, except
for an import, which adds its sector's entries in one pass right after its report; until then the sorts
read the sector's keywords directly (exact, as before). Triggers keep the copies exact on every change of
difficulty or CPC (edits, raw SQL), as they already do for the text and the sector.

Both indexes are in the sort's natural direction (blanks last, ties by keyword id); the other direction
walks them backwards.

Revision ID: 0010_page_sorts
Revises: 0009_import_speed
"""

from alembic import op

revision = '0010_page_sorts'
down_revision = '0009_import_speed'
branch_labels = None
depends_on = None

_UPGRADE = """
ALTER TABLE keyword_search ADD COLUMN difficulty smallint, ADD COLUMN cpc numeric(10, 2);
UPDATE keyword_search s SET difficulty = k.difficulty, cpc = k.cpc FROM keywords k
 WHERE k.id = s.keyword_id AND (k.difficulty IS NOT NULL OR k.cpc IS NOT NULL);
CREATE INDEX ix_keyword_search_difficulty ON keyword_search (sector_id, difficulty, keyword_id);
CREATE INDEX ix_keyword_search_cpc ON keyword_search (sector_id, cpc DESC NULLS LAST, keyword_id DESC);

CREATE OR REPLACE FUNCTION keywords_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT sector_id, site_id, account_id FROM new_rows LOOP
        PERFORM keywords_check_sector(r.sector_id, r.site_id, r.account_id);
    END LOOP;
    IF coalesce(current_setting('igny8.search_later', true), '') <> 'on' THEN
        INSERT INTO keyword_search (keyword_id, sector_id, normalized, difficulty, cpc)
        SELECT id, sector_id, normalized, difficulty, cpc FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION keywords_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO keyword_search (keyword_id, sector_id, normalized, difficulty, cpc)
    VALUES (NEW.id, NEW.sector_id, NEW.normalized, NEW.difficulty, NEW.cpc)
        ON CONFLICT (keyword_id) DO UPDATE SET sector_id = EXCLUDED.sector_id, normalized = EXCLUDED.normalized,
                                               difficulty = EXCLUDED.difficulty, cpc = EXCLUDED.cpc;
    RETURN NULL;
END $$;

DROP TRIGGER keywords_search_text ON keywords;
CREATE TRIGGER keywords_search_text AFTER UPDATE OF normalized, sector_id, difficulty, cpc ON keywords
    FOR EACH ROW WHEN (OLD.normalized IS DISTINCT FROM NEW.normalized OR OLD.sector_id IS DISTINCT FROM NEW.sector_id
                       OR OLD.difficulty IS DISTINCT FROM NEW.difficulty OR OLD.cpc IS DISTINCT FROM NEW.cpc)
    EXECUTE FUNCTION keywords_search_text();
"""

_DOWNGRADE = """
DROP TRIGGER keywords_search_text ON keywords;
CREATE TRIGGER keywords_search_text AFTER UPDATE OF normalized, sector_id ON keywords
    FOR EACH ROW WHEN (OLD.normalized IS DISTINCT FROM NEW.normalized OR OLD.sector_id IS DISTINCT FROM NEW.sector_id)
    EXECUTE FUNCTION keywords_search_text();

CREATE OR REPLACE FUNCTION keywords_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO keyword_search (keyword_id, sector_id, normalized) VALUES (NEW.id, NEW.sector_id, NEW.normalized)
        ON CONFLICT (keyword_id) DO UPDATE SET sector_id = EXCLUDED.sector_id, normalized = EXCLUDED.normalized;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION keywords_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT sector_id, site_id, account_id FROM new_rows LOOP
        PERFORM keywords_check_sector(r.sector_id, r.site_id, r.account_id);
    END LOOP;
    IF coalesce(current_setting('igny8.search_later', true), '') <> 'on' THEN
        INSERT INTO keyword_search (keyword_id, sector_id, normalized) SELECT id, sector_id, normalized FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

DROP INDEX ix_keyword_search_cpc;
DROP INDEX ix_keyword_search_difficulty;
ALTER TABLE keyword_search DROP COLUMN cpc, DROP COLUMN difficulty;
"""


def upgrade():
    op.execute(_UPGRADE)


def downgrade():
    op.execute(_DOWNGRADE)
