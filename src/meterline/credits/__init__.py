"""Credits: grants of money to spend on an account's invoices, with priority, scope and expiry (D9)."""
