#!/usr/bin/env bash
# Makes sure Debian's headless-capable `chromium` is installed; the report test drives it with playwright-core.
# Idempotent and quiet when chromium is already there, so CI and the test's set-up can both call it.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: chromium is missing and this user cannot install packages (not root, no sudo)" >&2
    exit 1
  fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1
