"""jobs.error_detail: what operators see when a job fails unexpectedly

Revision ID: 0005_outbound
Revises: 0004_thinker_planner
Create Date: 2026-11-30 00:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_outbound'
down_revision = '0005_publish_wordpress'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('jobs', sa.Column('error_detail', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('jobs', 'error_detail')
