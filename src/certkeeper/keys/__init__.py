"""Subscriber key quality (BR 6.1.1.3): weak-key arithmetic and key identities."""
