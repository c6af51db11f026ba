"""The engine: everything that rotates a key without a screen.

Config, credentials, the scheduler, the gate, the rotation engine and the one rotation
run that every front end drives, the audit log and what is read back from it. Nothing
in this package imports Textual: the headless CLI and the tests use it as it is.
"""
