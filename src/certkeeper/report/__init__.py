"""Incident reports for the CCADB: a model built from the stores, pure renderers.

`build` reads the inventory and the incident store once and returns an `IncidentReport`
value; `markdown`, `html` and `csvfiles` turn that value (and the affected rows) into
files without touching a database, so what the report says is exactly what the ledger
computed at one instant.
"""
