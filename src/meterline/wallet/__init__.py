"""The prepaid wallet: one per account, paid into by top-ups, paying invoices at finalization (D10)."""
