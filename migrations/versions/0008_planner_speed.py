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
    # The stored upload: lz4 compresses a CSV several times faster than the default pglz.
    if _lz4_available():
        op.execute('ALTER TABLE keyword_imports ALTER COLUMN data SET COMPRESSION lz4')


def downgrade():
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
