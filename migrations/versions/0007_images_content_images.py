"""content images and per-site image settings

Revision ID: 0007_images_content_images
Revises: 0006_publish_publications
Create Date: 2026-11-30 01:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007_images_content_images'
down_revision = '0007_auto_automation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'content_images',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('content_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('position', sa.Integer(), server_default='0', nullable=False),
        sa.Column('placement', sa.String(length=300), server_default='', nullable=False),
        sa.Column('prompt', sa.Text(), server_default='', nullable=False),
        sa.Column('alt', sa.String(length=300), server_default='', nullable=False),
        sa.Column('caption', sa.String(length=500), server_default='', nullable=False),
        sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('file_key', sa.String(length=200), nullable=True),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('mime', sa.String(length=40), nullable=True),
        sa.Column('bytes', sa.Integer(), nullable=True),
        sa.Column('model_used', sa.String(length=120), server_default='', nullable=False),
        sa.Column('credits', sa.Integer(), server_default='0', nullable=False),
        sa.Column('cost_usd', sa.Numeric(precision=12, scale=6), server_default='0', nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=True),
        sa.Column('prompt_job_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('featured', 'in_article')", name=op.f('ck_content_images_kind')),
        sa.CheckConstraint("status IN ('pending', 'generated', 'failed')", name=op.f('ck_content_images_status')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_content_images_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['content_id'], ['content.id'], name=op.f('fk_content_images_content_id_content'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_content_images_job_id_jobs'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['prompt_job_id'], ['jobs.id'],
                                name=op.f('fk_content_images_prompt_job_id_jobs'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_content_images_site_id_sites'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_content_images')),
    )
    op.create_index(op.f('ix_content_images_account_id'), 'content_images', ['account_id'])
    op.create_index(op.f('ix_content_images_site_id'), 'content_images', ['site_id'])
    op.create_index(op.f('ix_content_images_content_id'), 'content_images', ['content_id'])
    op.create_index('ix_content_images_site_status', 'content_images', ['site_id', 'status'])
    with op.batch_alter_table('writer_settings') as batch:
        batch.add_column(sa.Column('image_style_note', sa.String(length=300), server_default='', nullable=False))
        batch.add_column(sa.Column('featured_size', sa.String(length=20), server_default='1200x630', nullable=False))
        batch.add_column(sa.Column('in_article_size', sa.String(length=20), server_default='1024x768',
                                   nullable=False))


def downgrade():
    with op.batch_alter_table('writer_settings') as batch:
        batch.drop_column('in_article_size')
        batch.drop_column('featured_size')
        batch.drop_column('image_style_note')
    op.drop_table('content_images')
