#!/usr/bin/env bash
# Make sure a Java runtime (17 or later) is there for PySpark, then print its version. The
# screening tests run the rules on Spark in local mode (tests/test_discovery_engines.py);
# they are never skipped, so CI installs Debian's headless JRE here when java is missing.
set -euo pipefail

PACKAGE=openjdk-17-jre-headless

log() { echo "java.sh: $*" >&2; }

major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

if ! command -v java >/dev/null 2>&1 || [ "$(major)" -lt 17 ]; then
    started=$(date +%s)
    log "installing $PACKAGE with apt-get"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "$PACKAGE" >/dev/null
    log "installed in $(( $(date +%s) - started ))s"
fi

command -v java >/dev/null 2>&1 || { log "error: java missing after install"; exit 1; }
[ "$(major)" -ge 17 ] || { log "error: Java $(major) found; PySpark needs 17 or later"; exit 1; }
java -version 2>&1 | head -n 1
