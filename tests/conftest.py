"""Test-wide settings: every graph a test captures is verified and text-round-tripped."""

import os

os.environ.setdefault("DUALGRAPH_CHECK", "1")
