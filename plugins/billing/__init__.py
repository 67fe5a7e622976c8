"""Billing: invoices and credit notes, Belgian payments, Peppol BIS 3.0 e-invoices."""
