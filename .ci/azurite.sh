#!/usr/bin/env bash
# Installs (once, into .ci/azurite/) and starts Azurite's Blob service on 127.0.0.1.
# Usage: source .ci/azurite.sh   -> exports AZURITE_BLOB_ENDPOINT and AZURITE_PID
#        bash .ci/azurite.sh stop
# Started with `node` directly so that one PID can be stopped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$here/azurite"
version="3.35.0"
port="${AZURITE_PORT:-10000}"

if [ "${1:-}" = "stop" ]; then
    if [ -f "$prefix/pid" ]; then kill "$(cat "$prefix/pid")" 2>/dev/null || true; rm -f "$prefix/pid"; fi
    # Azurite's data and log (its blobs are the uploads of the test suite: gigabytes).
    if [ -f "$prefix/data" ]; then
        d="$(cat "$prefix/data")"
        case "$d" in */azurite-*) rm -rf "$d" "$d.log" ;; esac
        rm -f "$prefix/data"
    fi
    exit 0
fi

if [ ! -f "$prefix/node_modules/azurite/dist/src/blob/main.js" ]; then
    command -v npm >/dev/null || { echo "error: npm is needed to install Azurite (apt-get install nodejs npm)" >&2; exit 1; }
    echo "installing azurite@$version into $prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "azurite@$version" >&2
fi
if [ -f "$prefix/pid" ] && kill -0 "$(cat "$prefix/pid")" 2>/dev/null; then
    kill "$(cat "$prefix/pid")" 2>/dev/null || true
    sleep 0.5
fi
data="$(mktemp -d "${TMPDIR:-/tmp}/azurite-XXXXXX")"
echo "$data" >"$prefix/data"
node "$prefix/node_modules/azurite/dist/src/blob/main.js" \
    --blobHost 127.0.0.1 --blobPort "$port" --location "$data" \
    --skipApiVersionCheck --disableTelemetry --silent --loose >"$data.log" 2>&1 &
echo $! >"$prefix/pid"
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: Azurite did not start on port $port; its log:" >&2
    cat "$data.log" >&2
    exit 1
fi
export AZURITE_PID="$(cat "$prefix/pid")"
export AZURITE_BLOB_ENDPOINT="http://127.0.0.1:$port/devstoreaccount1"
export AZURITE_DATA="$data"
echo "azurite blob service at $AZURITE_BLOB_ENDPOINT (pid $AZURITE_PID, data $data)" >&2
