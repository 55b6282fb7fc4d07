"""The API's tables: hashed API keys, idempotent requests, and each key's daily LLM spend.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Spelled out, as in 0001: later model changes must not rewrite history.
MONEY = sa.Numeric(38, 18).with_variant(sa.String(48), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'trader', 'admin')", name="ck_api_keys_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("idem_key", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key_id", "idem_key", name="pk_api_idempotency"),
    )
    op.create_table(
        "api_usage",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("llm_cost_usd", MONEY, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key_id", "day", name="pk_api_usage"),
    )


def downgrade() -> None:
    op.drop_table("api_usage")
    op.drop_table("api_idempotency")
    op.drop_table("api_keys")
