#!/usr/bin/env bash
# venv.sh ERA DIR: a virtualenv in DIR with the job libraries at the versions Redash's release of
# ERA pins (requirements-ERA.txt beside this script), from PyPI. Reuses DIR when it already holds
# exactly these pins.
set -euo pipefail
era=${1:?usage: venv.sh celery|rq10|rq25 DIR}
dir=${2:?usage: venv.sh celery|rq10|rq25 DIR}
here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/requirements-$era.txt"
[ -f "$requirements" ] || { echo "venv.sh: unknown era $era (no $requirements)" >&2; exit 2; }
python=python3
if [ "$era" = celery ]; then
  # Celery 4.3's vine 1.3 imports inspect.formatargspec (gone in Python 3.11) and kombu 4.6.3
  # collections.Mapping (gone in 3.10): this era needs Python 3.9 or older.
  # REDASH_UPGRADE_CELERY_PYTHON names one.
  python=""
  for candidate in "${REDASH_UPGRADE_CELERY_PYTHON:-}" python3.9 python3.8 python3.7; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
  done
  [ -n "$python" ] || { echo "venv.sh: the celery era needs Python 3.7 to 3.9 (Celery 4.3.0 and kombu 4.6.3 do not import on 3.10+); set REDASH_UPGRADE_CELERY_PYTHON" >&2; exit 2; }
fi
command -v "$python" >/dev/null 2>&1 || { echo "venv.sh: $python is missing; apt-get install -y python3 python3-venv" >&2; exit 2; }
if [ -f "$dir/.pins" ] && cmp -s "$dir/.pins" "$requirements"; then
  exit 0
fi
rm -rf "$dir"
start=$(date +%s)
"$python" -m venv "$dir" || { echo "venv.sh: python3 -m venv failed; apt-get install -y python3-venv python3-pip" >&2; exit 2; }
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
cp "$requirements" "$dir/.pins"
echo "venv.sh: $era venv built in $(( $(date +%s) - start )) s" >&2
