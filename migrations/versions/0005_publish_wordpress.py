"""WordPress connection of a site and its last doctor outcome

Revision ID: 0005_publish_wordpress
Revises: 0004_thinker_planner
"""
from alembic import op
import sqlalchemy as sa

revision = '0005_publish_wordpress'
down_revision = '0004_thinker_planner'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sites') as batch:
        batch.add_column(sa.Column('wp_url', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('wp_username', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('wp_app_password', sa.Text(), nullable=True))
        batch.add_column(sa.Column('wp_health', sa.String(length=20), server_default='unchecked', nullable=False))
        batch.add_column(sa.Column('wp_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('wp_check', sa.JSON(), nullable=True))
    op.create_check_constraint(
        op.f('ck_sites_wp_health'), 'sites', "wp_health IN ('unchecked', 'ok', 'warning', 'failed')")


def downgrade():
    with op.batch_alter_table('sites') as batch:
        batch.drop_constraint('ck_sites_wp_health', type_='check')
        for column in ('wp_check', 'wp_checked_at', 'wp_health', 'wp_app_password', 'wp_username', 'wp_url'):
            batch.drop_column(column)
