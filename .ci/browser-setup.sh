#!/usr/bin/env bash
# Install what tests/test_browser.py needs into the virtual environment given as $1:
# Debian's chromium (when /usr/bin/chromium is missing) and tests/requirements-browser.txt
# (playwright, voila, jupyterlab: the test drives the three notebooks in Voila and in JupyterLab).
# Works for ipywidgets 8 and for Colab's ipywidgets 7.7 (pip install -c colab-constraints.txt).
# Usage: .ci/browser-setup.sh VENV   (then run pytest with CI=true: the browser test fails, not skips,
# when something is missing). Never runs `playwright install` (no browser download).
set -euo pipefail
VENV=${1:?usage: browser-setup.sh VENV}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null  # the Debian wrapper may print a harmless shell warning
"$VENV/bin/python" -m pip install -q -r "$ROOT/tests/requirements-browser.txt"
# Voila and JupyterLab render widgets with jupyterlab_widgets' front end: ipywidgets 7 (Colab's stack)
# needs its 1.x (1.1.x also runs in JupyterLab 4; pip otherwise picks 3.x, made for ipywidgets 8, and
# every widget shows "javascript error").
if "$VENV/bin/python" -c "import ipywidgets, sys; sys.exit(0 if ipywidgets.__version__.startswith('7.') else 1)"; then
  "$VENV/bin/python" -m pip install -q "jupyterlab_widgets>=1.1,<2"
fi
"$VENV/bin/python" -c "import playwright, voila, jupyterlab; print('playwright, voila and jupyterlab ready')"
