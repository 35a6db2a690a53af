#!/usr/bin/env bash
# Make sure Debian's Chromium (/usr/bin/chromium) and CJK fonts are installed, then print
# Chromium's version. The browser tests drive this binary through Playwright
# (executable_path); Playwright never downloads a browser of its own here.
#
# fonts-noto-cjk: without it Chinese text renders as boxes in screenshots; fonts-liberation
# gives Latin text the usual Arial/Times metrics (a Recommends, skipped by --no-install-recommends).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-liberation fonts-noto-cjk)

log() { echo "chromium.sh: $*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ -x "$CHROMIUM" ] || [[ " ${missing[*]} " == *" chromium "* ]] || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
    started=$(date +%s)
    log "installing ${missing[*]} with apt-get"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    log "installed in $(( $(date +%s) - started ))s"
fi

[ -x "$CHROMIUM" ] || { log "error: $CHROMIUM missing after install"; exit 1; }
"$CHROMIUM" --version
