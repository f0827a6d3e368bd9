"""Realtime sessions in a project's own tests: the pytest plugin (`plugin.py`, loaded through the
`pytest11` entry point `realtime_inspector`), the `RealtimeServer` it hands a test
(`harness.py`) and the tap's in-memory recorder for tests (`recorder.py`).

Nothing is imported here: pytest loads `plugin.py` into every run, and it must stay cheap.
"""
