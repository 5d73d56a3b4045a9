"""Invoices: live drafts, finalization, numbering, charges, bill runs, PDF."""
