"""keyturn: the engine (config, credentials, scheduler, gate, rotation, audit) and the dashboard.

Only app.py, widgets/ and screens/ import Textual; everything else runs headless.
"""
