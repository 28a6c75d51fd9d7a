#!/usr/bin/env bash
# Installs Debian's chromium for the page test (tests/test_page.py), once. Playwright drives it through its
# executable path; `playwright install` is never run (it downloads a browser of its own).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "browser-up: chromium is missing and this is not a root Debian shell; install chromium yourself" \
         "(the page test fails in CI and is skipped elsewhere without it)" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
chromium --version
