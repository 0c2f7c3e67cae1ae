"""The README's test command (``python -m pytest -n 2``) must say which tests it skipped and why."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_skipped_report_test_names_the_package_to_install(tmp_path):
    # PATH without any Chromium: the report-rendering test skips, and the run's own output says so.
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "tests/ir/test_report.py::test_report_renders_in_headless_chromium"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "SKIPPED" in done.stdout and "install the Debian package 'chromium' (apt-get install chromium)" \
        in done.stdout, done.stdout
