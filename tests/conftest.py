"""Test-wide settings: sessions/autosave go to a temporary folder, never the user's."""
import os
import tempfile

os.environ.setdefault("FLOWSCOPE_HOME", tempfile.mkdtemp(prefix="flowscope-test-"))
# The Radon operator's disk cache (engine/imaging/operator_cache.py) too: never the user's cache.
os.environ.setdefault("FLOWSCOPE_CACHE_DIR", tempfile.mkdtemp(prefix="flowscope-cache-"))
