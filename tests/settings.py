"""Settings for the test suite: the project's own, run as a local set-up (DEBUG=1, so the development key and
plain static files). pytest-django still serves every request with DEBUG off; a test that needs production
settings sets them itself (tests/jobs/test_settings.py starts processes with editor_site.settings)."""

import os

os.environ.setdefault("DEBUG", "1")

from editor_site.settings import *  # noqa: E402,F403
