"""Settings for the test suite: the project's own, run as a local set-up (DEBUG=1, so the development key and
plain static files). pytest-django still serves every request with DEBUG off; a test that needs production
settings sets them itself (tests/jobs/test_settings.py starts processes with editor_site.settings).

Each test process (each pytest-xdist worker, `gw0`, `gw1`, ...) gets a VAR_DIR of its own, a new temporary
folder, unless VAR_DIR is set: the metrics folder, the admin sign-in cache, MEDIA_ROOT's default, the upload
temporaries and STATIC_ROOT are then never shared with another worker, another test run or `make run`. It goes
in the environment, so the processes a test starts (qcluster hosts, manage.py) use it too; tests/conftest.py
removes it when the session ends. librosa's compiled code (NUMBA_CACHE_DIR) stays shared: it is not state."""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")
# Whose folder an inherited VAR_DIR is: the processes a worker starts share its folder, but a worker does not
# share the one pytest's main process made (xdist starts the workers with that process's environment).
_process = os.environ.get("PYTEST_XDIST_WORKER", "main")
_made = os.environ.get("CUTLINE_TEST_VAR_DIR")
if "VAR_DIR" not in os.environ or (_made == os.environ["VAR_DIR"] and os.environ.get("CUTLINE_TEST_VAR_OWNER") != _process):
    if _made and os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").startswith(_made):
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]  # the settings put it under the old VAR_DIR: derive it again
    os.environ["VAR_DIR"] = os.environ["CUTLINE_TEST_VAR_DIR"] = tempfile.mkdtemp(prefix=f"cutline-tests-{_process}-")
    os.environ["CUTLINE_TEST_VAR_OWNER"] = _process  # tests/conftest.py removes the folder in this process

from editor_site.settings import *  # noqa: E402,F403
