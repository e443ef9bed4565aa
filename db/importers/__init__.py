"""Importers: each one transaction, each idempotent."""
