"""The autopilot's tables: its jobs, their slots, the leader's heartbeat, and APScheduler's
job store.

Before this revision the autopilot created them on first use, so a database at 0004 may
hold them already (with their rows): each table is created only where it is missing,
which makes the upgrade safe on both kinds of database.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Spelled out, as in 0001: later changes to app/autopilot/_store.py must not rewrite history.
TIME = sa.DateTime(timezone=True)


def _tables() -> dict[str, list[sa.Column[object]]]:
    # Fresh objects each call: a Column belongs to one table only.
    return {
        "autopilot_jobs": [
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("spec", sa.Text(), nullable=False),
            sa.Column("created_at", TIME, nullable=False),
            sa.Column("cursor", TIME, nullable=True),
            sa.Column("runs", sa.Integer(), nullable=False),
            sa.Column("last_slot", TIME, nullable=True),
            sa.Column("last_run_id", sa.String(64), nullable=True),
            sa.Column("last_outcome", sa.Text(), nullable=True),
            sa.Column("last_finished_at", TIME, nullable=True),
        ],
        "autopilot_slots": [
            sa.Column("job", sa.String(64), primary_key=True),
            sa.Column("slot", TIME, primary_key=True),
            sa.Column("started_at", TIME, nullable=False),
            sa.Column("finished_at", TIME, nullable=True),
            sa.Column("run_id", sa.String(64), nullable=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("outcome", sa.Text(), nullable=True),
            sa.Column("cost_usd", sa.String(32), nullable=False),
            sa.Column("approval_closed", sa.Integer(), nullable=False),
        ],
        "autopilot_leader": [
            sa.Column("id", sa.String(16), primary_key=True),
            sa.Column("holder", sa.String(200), nullable=False),
            sa.Column("started_at", TIME, nullable=False),
            sa.Column("beat_at", TIME, nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("stop_requested_at", TIME, nullable=True),
            sa.Column("info", sa.Text(), nullable=False),
        ],
        # APScheduler 3's SQLAlchemyJobStore table, as it would create it itself.
        "autopilot_apscheduler_jobs": [
            sa.Column("id", sa.Unicode(191), primary_key=True),
            sa.Column("next_run_time", sa.Float(25), nullable=True),
            sa.Column("job_state", sa.LargeBinary(), nullable=False),
        ],
    }


INDEXES = {"autopilot_apscheduler_jobs": {"ix_autopilot_apscheduler_jobs_next_run_time":
                                          ["next_run_time"]}}  # fmt: skip


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, parts in _tables().items():
        if name in existing:  # created on first use by an autopilot before 0005
            continue
        op.create_table(name, *parts)
        for index, columns in INDEXES.get(name, {}).items():
            op.create_index(index, name, columns)


def downgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name in reversed(list(_tables())):
        if name in existing:
            op.drop_table(name)
