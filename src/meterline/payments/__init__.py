"""Payments spread over an account's invoices."""
