"""Initial ledger: orders, fills, positions, balances, runs, risk state, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand and checked against the models by ``tests/core/ledger`` (autogenerate
finds no difference). Types are spelled out here rather than imported from the models,
so later model changes cannot silently rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MONEY = sa.Numeric(38, 18).with_variant(sa.String(48), "sqlite")
TIME = sa.DateTime(timezone=True)
STATUSES = "'pending_send', 'sent', 'open', 'partially_filled', 'filled', 'canceled', " + (
    "'rejected', 'expired', 'unknown'"
)


def upgrade() -> None:
    _orders()
    _fills()
    _state_tables()
    _audit_tables()
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_GUARDS:
            op.execute(statement)
    else:
        for statement in _SQLITE_GUARDS:
            op.execute(statement)
    op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')")


def _orders() -> None:
    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("intent_id", sa.String(64), nullable=False),
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("limit_price", MONEY, nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("filled_qty", MONEY, nullable=False),
        sa.Column("avg_fill_price", MONEY, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("side IN ('buy', 'sell')", name="ck_orders_side"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_orders_status"),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_intent_id", "orders", ["intent_id"])
    op.create_index("ix_orders_symbol", "orders", ["symbol"])
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_orders_venue_order", "orders", ["venue", "venue_order_id"])


def _fills() -> None:
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("fill_id", sa.String(128), nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("fee", MONEY, nullable=False),
        sa.Column("fee_currency", sa.String(16), nullable=False),
        sa.Column("ts", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.CheckConstraint("side IN ('buy', 'sell')", name="ck_fills_side"),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name="fk_fills_client_order_id_orders",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_fills"),
        sa.UniqueConstraint("venue", "fill_id", name="uq_fills_venue_fill_id"),
    )
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])


def _state_tables() -> None:
    op.create_table(
        "positions",
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("quantity", MONEY, nullable=False),
        sa.Column("average_price", MONEY, nullable=False),
        sa.Column("realised_pnl", MONEY, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("venue", "symbol", name="pk_positions"),
    )
    op.create_table(
        "balances",
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("free", MONEY, nullable=False),
        sa.Column("used", MONEY, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("venue", "currency", name="pk_balances"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("data_hashes", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_kind", "runs", ["kind"])
    op.create_table(
        "risk_state",
        sa.Column("venue", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("trading_state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("venue", "account", name="pk_risk_state"),
    )


def _audit_tables() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
        sa.UniqueConstraint("hash", name="uq_audit_entries_hash"),
    )
    op.create_index("ix_audit_entries_kind", "audit_entries", ["kind"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )


# The guards stop accidents and casual edits. Someone with owner rights can drop them;
# hash-chain verification is what catches that.
_PG_GUARDS = (
    """CREATE FUNCTION tiller_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_entries is append-only (% refused)', TG_OP;
    END $$""",
    """CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION tiller_audit_append_only()""",
    """CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tiller_audit_append_only()""",
    """CREATE FUNCTION tiller_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.seq <> OLD.seq + 1 THEN
            RAISE EXCEPTION 'audit_head only moves forward one entry at a time';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION tiller_audit_head_forward()""",
)
_SQLITE_GUARDS = (
    """CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only (UPDATE refused)'); END""",
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only (DELETE refused)'); END""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
    WHEN NEW.seq <> OLD.seq + 1
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward one entry at a time'); END""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward one entry at a time'); END""",
)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_head")  # drops its trigger too
        op.execute("DROP TABLE audit_entries")
        op.execute("DROP FUNCTION tiller_audit_head_forward()")
        op.execute("DROP FUNCTION tiller_audit_append_only()")
    else:
        op.drop_table("audit_head")
        op.drop_table("audit_entries")
    for table in ("risk_state", "runs", "balances", "positions", "fills", "orders"):
        op.drop_table(table)
