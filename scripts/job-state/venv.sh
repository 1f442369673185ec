#!/usr/bin/env bash
# venv.sh ERA DIR: a virtualenv in DIR with the job libraries at the versions Redash's release of
# ERA pins (requirements-ERA.txt beside this script), from PyPI. Reuses DIR when it already holds
# exactly these pins on the same interpreter (DIR/.pins records both).
set -euo pipefail
era=${1:?usage: venv.sh celery|rq10|rq25 DIR}
dir=${2:?usage: venv.sh celery|rq10|rq25 DIR}
here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/requirements-$era.txt"
[ -f "$requirements" ] || { echo "venv.sh: unknown era $era (no $requirements)" >&2; exit 2; }

# runs PYTHON CHECK: PYTHON starts and CHECK (Python source) holds. `command -v` is not enough:
# a pyenv shim (python3.9) is on PATH even when pyenv's global version makes it fail to run.
runs() { "$1" -c "import sys; assert $2" >/dev/null 2>&1; }
old_enough='(3, 7) <= sys.version_info[:2] <= (3, 9)'

python=python3
if [ "$era" = celery ]; then
  # Celery 4.3's vine 1.3 imports inspect.formatargspec (gone in Python 3.11) and kombu 4.6.3
  # collections.Mapping (gone in 3.10): this era runs as is on Python 3.7 to 3.9. The first of
  # these that runs is used: REDASH_UPGRADE_CELERY_PYTHON (which must run, else this fails), then
  # python3.9, 3.8, 3.7 on PATH, then pyenv's own installs (whichever pyenv version is global).
  python=""
  if [ -n "${REDASH_UPGRADE_CELERY_PYTHON:-}" ]; then
    runs "$REDASH_UPGRADE_CELERY_PYTHON" 'True' || {
      echo "venv.sh: REDASH_UPGRADE_CELERY_PYTHON=$REDASH_UPGRADE_CELERY_PYTHON does not run" >&2; exit 2; }
    python=$REDASH_UPGRADE_CELERY_PYTHON
  else
    roots=("${PYENV_ROOT:-$HOME/.pyenv}")
    if command -v pyenv >/dev/null 2>&1; then roots+=("$(pyenv root 2>/dev/null || true)"); fi
    candidates=(python3.9 python3.8 python3.7)
    for minor in 9 8 7; do
      for root in "${roots[@]}"; do
        [ -n "$root" ] || continue
        # Newest patch release first.
        for found in $(ls -d "$root"/versions/3."$minor".*/bin/python3."$minor" 2>/dev/null | sort -rV); do
          candidates+=("$found")
        done
      done
    done
    for candidate in "${candidates[@]}"; do
      if runs "$candidate" "$old_enough"; then python=$candidate; break; fi
    done
  fi
  if [ -z "$python" ]; then
    # No Python 3.7 to 3.9 here: the default python3, with celery_compat.py (below).
    python=python3
    echo "venv.sh: no Python 3.7 to 3.9 found (REDASH_UPGRADE_CELERY_PYTHON names one)" >&2
  fi
fi
runs "$python" 'True' || { echo "venv.sh: $python does not run; apt-get install -y python3 python3-venv" >&2; exit 2; }
if [ "$era" = celery ] && ! runs "$python" "$old_enough"; then
  # Python 3.10 or 3.11: make_state.py imports celery_compat.py before Celery. That module only
  # puts back the standard library names removed in 3.10 and 3.11 that vine, kombu and Celery
  # import (collections.Mapping & co, inspect.getargspec, inspect.formatargspec); Celery, kombu
  # and their pins are unchanged, and the manifest says so ("stdlib_compat": true). 3.12 removed
  # more (distutils, which redis 3.2.1 imports): no fallback there.
  version=$("$python" -c 'import platform; print(platform.python_version())')
  runs "$python" 'sys.version_info[:2] <= (3, 11)' || {
    echo "venv.sh: the celery era needs Python 3.7 to 3.9 (or 3.10/3.11 with celery_compat.py);" \
      "$python is $version; set REDASH_UPGRADE_CELERY_PYTHON" >&2
    exit 2
  }
  echo "venv.sh: celery era on Python $version: make_state.py restores removed stdlib names" \
    "with scripts/job-state/celery_compat.py" >&2
fi

# The pins, preceded by the interpreter they were installed on: a change of either rebuilds.
pins=$("$python" -c 'import platform, sys; print("# python %s %s" % (platform.python_version(), sys.executable))'
       cat "$requirements")
if [ -f "$dir/.pins" ] && [ "$(cat "$dir/.pins")" = "$pins" ]; then
  exit 0
fi
rm -rf "$dir"
start=$(date +%s)
"$python" -m venv "$dir" || { echo "venv.sh: $python -m venv failed; apt-get install -y python3-venv python3-pip" >&2; exit 2; }
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
printf '%s\n' "$pins" >"$dir/.pins"
echo "venv.sh: $era venv built with $python in $(( $(date +%s) - start )) s" >&2
