"""The audit log (BR 5.4.1): every security-relevant event, hash-chained.

`chain` is the pure part (entry hashes, verification), `log` appends and reads through
the store and mirrors each entry as a JSON line, `record` is the one-call API that the
services use at each event site.
"""
