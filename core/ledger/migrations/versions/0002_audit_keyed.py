"""Keyed audit chain: each entry records how its hash was made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

Entries written before this revision keep their plain SHA-256 hashes (``mac`` =
'sha256'); entries appended with a key are HMAC-SHA256 ('hmac-sha256'). Verification
accepts plain entries only before the first keyed one, so an unkeyed chain upgrades by
simply continuing with keyed entries, and nothing is rewritten.

A plain ``ALTER TABLE ... ADD COLUMN`` (no batch copy on SQLite): copying the table
would drop its append-only triggers, and on PostgreSQL a constant default adds the
column without touching (or firing triggers on) any row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "audit_entries",
        sa.Column("mac", sa.String(16), server_default="sha256", nullable=False),
    )


def downgrade() -> None:
    # Dropping the column is only safe while no keyed entry exists: an older Tiller
    # would read keyed entries as plain ones and call the chain broken.
    op.drop_column("audit_entries", "mac")
