"""Keywords: drop the indexes that cost every insert without serving a page.

The keyword table is read by sector (or by cluster); the tenancy criteria on account_id and
site_id always come with one of those, so their own indexes only served cascade deletes of a
whole account or site (rare, and still correct without them). The difficulty and CPC sorts read
the sector's rows and keep the top page (a bounded sort), and "newest first" walks the primary key,
since ids are handed out in the order keywords are added.

Revision ID: 0005_planner_keyword_indexes
Revises: 0004_thinker_planner
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_planner_keyword_indexes'
down_revision = '0005_jobs_fencing'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_keywords_account_id', table_name='keywords')
    op.drop_index('ix_keywords_site_id', table_name='keywords')
    op.drop_index('ix_keywords_sector_difficulty', table_name='keywords')
    op.drop_index('ix_keywords_sector_cpc', table_name='keywords')
    op.drop_index('ix_keywords_sector_created', table_name='keywords')


def downgrade():
    op.create_index('ix_keywords_sector_created', 'keywords',
                    ['sector_id', sa.text('created_at DESC'), sa.text('id DESC')], unique=False)
    op.create_index('ix_keywords_sector_cpc', 'keywords',
                    ['sector_id', sa.text('cpc DESC NULLS LAST'), sa.text('id DESC')], unique=False)
    op.create_index('ix_keywords_sector_difficulty', 'keywords', ['sector_id', 'difficulty', 'id'], unique=False)
    op.create_index('ix_keywords_site_id', 'keywords', ['site_id'], unique=False)
    op.create_index('ix_keywords_account_id', 'keywords', ['account_id'], unique=False)
