"""Certificate Transparency (RFC 6962): log list, policy, SCTs, submission, a test log."""
