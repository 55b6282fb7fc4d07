"""Alembic migrations of the ledger, shipped inside the package (run by ``open_ledger``)."""
