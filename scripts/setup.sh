#!/usr/bin/env bash
# Set up everything certkeeper needs, from nothing: Debian packages (openssl; PostgreSQL
# for the database tests; certbot, lego and pebble (with pebble-challtestsrv, a DNS server)
# for the ACME tests and benchmark; knot, a DNS server for the CAA tests; SoftHSM2 for the PKCS#11 signer tests; chromium for rendering the HTML incident report), a
# virtual environment in .venv, and the package with its development tools; the newest
# certbot from PyPI in .venv-certbot for the integration tests. Safe to run
# again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v certbot >/dev/null 2>&1 || need_apt+=(certbot)
command -v lego >/dev/null 2>&1 || need_apt+=(lego)
command -v pebble-challtestsrv >/dev/null 2>&1 || need_apt+=(pebble)
[ -x /usr/sbin/knotd ] || need_apt+=(knot)
# unbound: the DNSSEC-validating resolver (BR 3.2.2.4, 4.2.2.1.1); ldnsutils signs test
# zones; dns-root-data holds the IANA root trust anchor
[ -x /usr/sbin/unbound ] || need_apt+=(unbound)
command -v ldns-signzone >/dev/null 2>&1 || need_apt+=(ldnsutils)
[ -f /usr/share/dns/root.ds ] || need_apt+=(dns-root-data)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v softhsm2-util >/dev/null 2>&1 || need_apt+=(softhsm2)
# certspotter: an independent CT monitor, run against certkeeper's test log
command -v certspotter >/dev/null 2>&1 || need_apt+=(certspotter)
command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)
if ((${#need_apt[@]})); then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
"$PY" - <<'PYEOF'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"certkeeper needs Python 3.11 or newer, found {sys.version.split()[0]}")
PYEOF

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.certkeeper-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages" >&2
  .venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
  .venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c 'import certkeeper, pkilint, sqlalchemy, typer' 
  touch "$stamp"
fi

# The newest certbot from PyPI (ARI, ACME profiles) for the integration tests, beside
# Debian's older one; a virtual environment of its own, so its pins never meet ours.
CERTBOT_PYPI=5.8.0
if ! .venv-certbot/bin/certbot --version 2>&1 | grep -qx "certbot $CERTBOT_PYPI"; then
  echo "setup: installing certbot $CERTBOT_PYPI from PyPI into .venv-certbot" >&2
  "$PY" -m venv .venv-certbot
  .venv-certbot/bin/python -m pip install -q "certbot==$CERTBOT_PYPI" 2>&1 | grep -v "^WARNING: Location" || true
  .venv-certbot/bin/certbot --version >/dev/null
fi
