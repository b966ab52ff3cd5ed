"""Planner speed: cheaper keyword inserts (one foreign key check, deferred trigram merges, partial
cluster indexes), lz4 for stored import files, and indexes for the clusters and ideas pages.

Keywords
- The three foreign keys (account, site, sector) cost three lookups per inserted row; one composite key
  (sector_id, site_id, account_id) -> sectors (id, site_id, account_id) costs one and also guarantees that
  a keyword's site and account are its sector's. Deleting an account or a site still removes its keywords
  (account/site -> sectors cascade, sectors -> keywords cascade).
- The cluster index only lists clustered keywords (WHERE cluster_id IS NOT NULL): an import (all rows
  unclustered) adds nothing to it, and every lookup by cluster — the cluster page, its figures, the
  ON DELETE SET NULL of a deleted cluster — names a cluster. It also carries volume and difficulty so a
  cluster's figures are an index-only scan; a second one leads with the sector for the clusters page.
- The trigram (search) index keeps new entries in its pending list up to 64 MB instead of 4 MB, so a big
  import merges them in one pass (the import asks for it at its end) instead of many small ones.

Clusters and ideas pages
- Each cluster keeps its figures (keywords, total volume, difficulty sum and count, ideas), maintained by
  triggers on keywords and ideas whatever changes them (imports, clustering, merges, moves, edits,
  deletes), so the clusters page sorts 2,000 clusters without aggregating 100,000 keywords per load.
  The triggers' WHEN clauses skip every row that cannot change a figure: an import (unclustered rows)
  or a change of status or intent does not run them at all.
- Ideas are listed newest first per sector: (sector_id, id) replaces the sector index; the ideas search
  ("contains", in the title or the primary keyword) gets a trigram index.

Revision ID: 0008_planner_speed
Revises: 0007_images_content_images
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_planner_speed'
down_revision = '0007_images_content_images'
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    values = op.get_bind().execute(sa.text(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(values) and 'lz4' in values


_FUNCTIONS = """
CREATE FUNCTION planner_keyword_figures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.cluster_id IS NOT NULL THEN
        UPDATE clusters SET keyword_count = keyword_count - 1, volume_sum = volume_sum - coalesce(OLD.volume, 0),
               difficulty_sum = difficulty_sum - coalesce(OLD.difficulty, 0),
               difficulty_n = difficulty_n - (OLD.difficulty IS NOT NULL)::int
         WHERE id = OLD.cluster_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.cluster_id IS NOT NULL THEN
        UPDATE clusters SET keyword_count = keyword_count + 1, volume_sum = volume_sum + coalesce(NEW.volume, 0),
               difficulty_sum = difficulty_sum + coalesce(NEW.difficulty, 0),
               difficulty_n = difficulty_n + (NEW.difficulty IS NOT NULL)::int
         WHERE id = NEW.cluster_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION planner_idea_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.cluster_id IS NOT NULL THEN
        UPDATE clusters SET ideas_count = ideas_count - 1 WHERE id = OLD.cluster_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.cluster_id IS NOT NULL THEN
        UPDATE clusters SET ideas_count = ideas_count + 1 WHERE id = NEW.cluster_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER keywords_cluster_figures_insert AFTER INSERT ON keywords
    FOR EACH ROW WHEN (NEW.cluster_id IS NOT NULL) EXECUTE FUNCTION planner_keyword_figures();
CREATE TRIGGER keywords_cluster_figures_update AFTER UPDATE OF cluster_id, volume, difficulty ON keywords
    FOR EACH ROW WHEN (OLD.cluster_id IS DISTINCT FROM NEW.cluster_id OR OLD.volume IS DISTINCT FROM NEW.volume
                       OR OLD.difficulty IS DISTINCT FROM NEW.difficulty)
    EXECUTE FUNCTION planner_keyword_figures();
CREATE TRIGGER keywords_cluster_figures_delete AFTER DELETE ON keywords
    FOR EACH ROW WHEN (OLD.cluster_id IS NOT NULL) EXECUTE FUNCTION planner_keyword_figures();
CREATE TRIGGER ideas_cluster_count AFTER INSERT OR DELETE OR UPDATE OF cluster_id ON ideas
    FOR EACH ROW EXECUTE FUNCTION planner_idea_counted();
"""


def upgrade():
    op.create_unique_constraint('uq_sectors_id_site_account', 'sectors', ['id', 'site_id', 'account_id'])
    op.drop_constraint('fk_keywords_account_id_accounts', 'keywords', type_='foreignkey')
    op.drop_constraint('fk_keywords_site_id_sites', 'keywords', type_='foreignkey')
    op.drop_constraint('fk_keywords_sector_id_sectors', 'keywords', type_='foreignkey')
    op.create_foreign_key('fk_keywords_sector_site_account', 'keywords', 'sectors',
                          ['sector_id', 'site_id', 'account_id'], ['id', 'site_id', 'account_id'],
                          ondelete='CASCADE')
    op.drop_index('ix_keywords_cluster', table_name='keywords')
    op.create_index('ix_keywords_cluster', 'keywords', ['cluster_id'], postgresql_include=['volume', 'difficulty'],
                    postgresql_where=sa.text('cluster_id IS NOT NULL'))
    op.execute('ALTER INDEX ix_keywords_normalized_trgm SET (gin_pending_list_limit = 65536)')
    for name, type_ in (('keyword_count', sa.Integer()), ('volume_sum', sa.BigInteger()),
                        ('difficulty_sum', sa.BigInteger()), ('difficulty_n', sa.Integer()),
                        ('ideas_count', sa.Integer())):
        op.add_column('clusters', sa.Column(name, type_, server_default='0', nullable=False))
    op.execute("""
        UPDATE clusters c SET keyword_count = k.n, volume_sum = k.v, difficulty_sum = k.ds, difficulty_n = k.dn
          FROM (SELECT cluster_id, count(*) AS n, coalesce(sum(volume), 0) AS v, coalesce(sum(difficulty), 0) AS ds,
                       count(difficulty) AS dn
                  FROM keywords WHERE cluster_id IS NOT NULL GROUP BY cluster_id) k
         WHERE c.id = k.cluster_id""")
    op.execute("""
        UPDATE clusters c SET ideas_count = i.n
          FROM (SELECT cluster_id, count(*) AS n FROM ideas WHERE cluster_id IS NOT NULL GROUP BY cluster_id) i
         WHERE c.id = i.cluster_id""")
    op.execute(_FUNCTIONS)
    op.drop_index('ix_ideas_sector_id', table_name='ideas')
    op.create_index('ix_ideas_sector_newest', 'ideas', ['sector_id', sa.text('id DESC')])
    op.create_index('ix_ideas_search', 'ideas', ['title', 'primary_keyword'], postgresql_using='gin',
                    postgresql_ops={'title': 'gin_trgm_ops', 'primary_keyword': 'gin_trgm_ops'})
    # The stored upload: lz4 compresses a CSV several times faster than the default pglz.
    if _lz4_available():
        op.execute('ALTER TABLE keyword_imports ALTER COLUMN data SET COMPRESSION lz4')


def downgrade():
    op.drop_index('ix_ideas_search', table_name='ideas')
    op.drop_index('ix_ideas_sector_newest', table_name='ideas')
    op.create_index('ix_ideas_sector_id', 'ideas', ['sector_id'])
    op.execute('DROP TRIGGER ideas_cluster_count ON ideas')
    for trigger in ('insert', 'update', 'delete'):
        op.execute(f'DROP TRIGGER keywords_cluster_figures_{trigger} ON keywords')
    for function in ('planner_keyword_figures', 'planner_idea_counted'):
        op.execute(f'DROP FUNCTION {function}()')
    for name in ('keyword_count', 'volume_sum', 'difficulty_sum', 'difficulty_n', 'ideas_count'):
        op.drop_column('clusters', name)
    op.execute('ALTER TABLE keyword_imports ALTER COLUMN data SET COMPRESSION default')
    op.execute('ALTER INDEX ix_keywords_normalized_trgm RESET (gin_pending_list_limit)')
    op.drop_index('ix_keywords_cluster', table_name='keywords')
    op.create_index('ix_keywords_cluster', 'keywords', ['cluster_id'])
    op.drop_constraint('fk_keywords_sector_site_account', 'keywords', type_='foreignkey')
    op.create_foreign_key('fk_keywords_sector_id_sectors', 'keywords', 'sectors', ['sector_id'], ['id'],
                          ondelete='CASCADE')
    op.create_foreign_key('fk_keywords_site_id_sites', 'keywords', 'sites', ['site_id'], ['id'], ondelete='CASCADE')
    op.create_foreign_key('fk_keywords_account_id_accounts', 'keywords', 'accounts', ['account_id'], ['id'],
                          ondelete='CASCADE')
    op.drop_constraint('uq_sectors_id_site_account', 'sectors', type_='unique')
