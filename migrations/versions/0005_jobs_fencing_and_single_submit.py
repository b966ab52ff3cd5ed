"""jobs: fencing token, one-time submit tokens, one active copy of identical work

Revision ID: 0005_jobs_fencing
Revises: 0004_thinker_planner
Create Date: 2026-11-30 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_jobs_fencing'
down_revision = '0005_writer_content'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('jobs', sa.Column('owner_token', sa.String(length=32), nullable=True))
    op.add_column('jobs', sa.Column('submit_token', sa.String(length=64), nullable=True))
    op.add_column('jobs', sa.Column('work_key', sa.String(length=64), nullable=True))
    op.create_index('uq_jobs_account_id_submit_token', 'jobs', ['account_id', 'submit_token'], unique=True,
                    postgresql_where=sa.text('submit_token IS NOT NULL'))
    op.create_index('uq_jobs_account_id_work_key_active', 'jobs', ['account_id', 'work_key'], unique=True,
                    postgresql_where=sa.text("work_key IS NOT NULL AND status IN ('queued', 'running')"))
    op.create_index(op.f('ix_jobs_site_id'), 'jobs', ['site_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_jobs_site_id'), table_name='jobs')
    op.drop_index('uq_jobs_account_id_work_key_active', table_name='jobs')
    op.drop_index('uq_jobs_account_id_submit_token', table_name='jobs')
    op.drop_column('jobs', 'work_key')
    op.drop_column('jobs', 'submit_token')
    op.drop_column('jobs', 'owner_token')
