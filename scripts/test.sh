#!/usr/bin/env bash
# The whole test suite, as README.md documents it and .ci/run calls it.
# Installs what the tests need when it is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "scripts/test.sh: cargo is not installed; install the Rust toolchain first" >&2
  exit 2
fi

# The database tests start their own throwaway PostgreSQL server: they need its binaries
# (initdb, postgres), not a running service.
have_postgres_server() {
  local bindir
  bindir="$(pg_config --bindir 2>/dev/null || true)"
  if [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/postgres" ]; then
    return 0
  fi
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

missing=()
have_postgres_server || missing+=(postgresql)
# The Redis tests start their own throwaway redis-server (the binary, not the service) and build
# virtualenvs of the job libraries each Redash era pins (scripts/job-state/venv.sh, from PyPI).
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# The TLS test gives its throwaway server a self-signed certificate made with openssl.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]} from Debian packages" >&2
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "scripts/test.sh: ${missing[*]} missing and there is no sudo; run: apt-get install -y ${missing[*]}" >&2
      exit 2
    fi
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's packages start services; the tests do not use them.
  "${as_root[@]}" service postgresql stop >/dev/null 2>&1 || true
  "${as_root[@]}" service redis-server stop >/dev/null 2>&1 || true
fi

cargo test --locked --all-targets
