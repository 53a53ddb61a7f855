"""pytest's settings: the real settings plus test-only defaults (nothing else changes)."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")
# A developer's .env (make demo writes one) must not change the tests, nor the manage.py
# subprocesses they start (those inherit this environment).
os.environ["AJO_READ_DOTENV"] = "false"

from ajo.settings import *  # noqa: F403
from ajo.settings import DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: tests run sync_chain in subprocesses against the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"ajo-test-{os.getpid()}.sqlite3")
    }

# The tests do not run collectstatic: serve static files from the apps, not from a manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
