"""pytest's settings: the real settings plus a test-only SECRET_KEY default (nothing else)."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")

from ajo.settings import *  # noqa: F403
