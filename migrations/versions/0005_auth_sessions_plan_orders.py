"""sign-in sessions, plan orders and paid-through dates

Revision ID: 0005_auth_sessions
Revises: 0004_thinker_planner
Create Date: 2026-11-30 00:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005_auth_sessions'
down_revision = '0005_outbound'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_user_sessions_key_hash'))
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)

    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('plan_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_orders_plan_id_plans'), 'plans', ['plan_id'], ['id'], ondelete='SET NULL')
        batch.drop_constraint(op.f('ck_orders_credits_positive'), type_='check')
        batch.create_check_constraint(op.f('ck_orders_credits_not_negative'), 'credits >= 0')

    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('paid_through', sa.DateTime(timezone=True), nullable=True))
    # Subscriptions already on a priced plan keep it until the end of the current period.
    op.execute("UPDATE subscriptions SET paid_through = current_period_end "
               "FROM plans WHERE plans.id = subscriptions.plan_id AND plans.price > 0")


def downgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_column('paid_through')
    op.execute("DELETE FROM orders WHERE plan_id IS NOT NULL")
    with op.batch_alter_table('orders') as batch:
        batch.drop_constraint(op.f('ck_orders_credits_not_negative'), type_='check')
        batch.create_check_constraint(op.f('ck_orders_credits_positive'), 'credits > 0')
        batch.drop_constraint(op.f('fk_orders_plan_id_plans'), type_='foreignkey')
        batch.drop_column('plan_id')
    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')
