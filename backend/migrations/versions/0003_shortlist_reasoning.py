"""shortlist reasoning: how the model's text ended (answer, degenerate, limit) and who made the order

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shortlist', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reasoning', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('shortlist', schema=None) as batch_op:
        batch_op.drop_column('reasoning')
