"""ACME (RFC 8555) server with ACME Renewal Information (RFC 9773)."""
