"""Another process on the same settings, as a second node would be."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from service.config import REPO_ROOT, Settings


def child(settings: Settings, script: str) -> subprocess.Popen[str]:
    """Another process with these settings (from the environment, as a second node would read them):
    ``script`` runs with ``settings`` defined, talking over stdin and stdout line by line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["NEWSDESK_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["NEWSDESK_DATABASE_URL"] = settings.database_url
    prelude = "import sys\nfrom service.config import Settings\nsettings = Settings()\n"
    return subprocess.Popen([sys.executable, "-c", prelude + textwrap.dedent(script)], env=env, cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
