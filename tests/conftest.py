"""Test-wide settings: sessions/autosave go to a temporary folder, never the user's."""
import os
import tempfile

os.environ.setdefault("FLOWSCOPE_HOME", tempfile.mkdtemp(prefix="flowscope-test-"))
