"""The audit log: an append-only record of every change made through the console (sign-in and
sign-out, create, restore, delete; failed and refused attempts too), and the Activity page.

A lower-level app: ``console`` and ``backups`` views call :func:`audit.record.record`; ``audit``
itself uses only ``backups.api`` of ``backups`` and ``console``'s decorators, session type and
client address (``tests/test_architecture.py``; docs/adr/0012-audit-log.md).
"""
