#!/usr/bin/env bash
# Upload throughput benchmark (not a test): cutover vs Microsoft's Python SDK, same 1 GiB file, same
# private Azurite, same run. Prints per client the MB/s, client CPU seconds (user + sys) per GiB and
# peak RSS, then the ratios cutover / Python and the issue's targets. See benches/README.md.
#
#   bash benches/upload.sh                 # 1 GiB, one run of each
#   SIZE_MIB=2048 RUNS=3 bash benches/upload.sh
#   PROFILE=1 bash benches/upload.sh       # also `perf record` cutover and print its top symbols
#   CUTOVER_BIN=path/to/cutover bash benches/upload.sh   # skip the release build
#
# Needs: node + Azurite installed by .ci/azurite.sh, python3 with azure-storage-blob
# (pip install azure-storage-blob==12.31.1), GNU time (/usr/bin/time), and perf for PROFILE=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

size_mib="${SIZE_MIB:-1024}"
runs="${RUNS:-1}"
profile="${PROFILE:-0}"
in_flight_mib=256   # cutover's default --max-in-flight
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
main_js="$root/.ci/azurite/node_modules/azurite/dist/src/blob/main.js"

die() { echo "error: $*" >&2; exit 1; }
[ -f "$main_js" ] || die "Azurite is not installed: run 'source .ci/azurite.sh' once"
command -v node >/dev/null || die "node is needed (Azurite)"
[ -x /usr/bin/time ] || die "GNU time is needed (/usr/bin/time; apt-get install time)"
python3 -c "import azure.storage.blob" 2>/dev/null \
    || die "python3 cannot import azure.storage.blob: pip install azure-storage-blob==12.31.1"

if [ -n "${CUTOVER_BIN:-}" ]; then
    bin="$CUTOVER_BIN"
else
    echo "== cargo build --release --bin cutover" >&2
    cargo build --release --bin cutover >&2
    bin="$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/cutover"
fi
[ -x "$bin" ] || die "no cutover binary at $bin"

work="$(mktemp -d -t cutover-bench-XXXXXX)"
azurite_pid=""
cleanup() {
    if [ -n "$azurite_pid" ]; then kill "$azurite_pid" 2>/dev/null || true; wait "$azurite_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A private Azurite on a free port, its data in $work (removed at the end).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/azurite" "$work/data"
node "$main_js" --blobHost 127.0.0.1 --blobPort "$port" --location "$work/azurite" \
    --skipApiVersionCheck --disableTelemetry --silent --loose >"$work/azurite.log" 2>&1 &
azurite_pid=$!
for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { cat "$work/azurite.log" >&2; die "Azurite did not start"; }
endpoint="http://127.0.0.1:$port/devstoreaccount1"

file="$work/data/bench.bin"
echo "== writing $size_mib MiB of random bytes" >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$file"
bytes="$(stat -c %s "$file")"
local_md5="$(md5sum "$file" | cut -d' ' -f1)"

# CPU seconds (user + sys) Azurite used so far, for context: it is the bottleneck on 2 cores.
azurite_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$azurite_pid/stat"
}

py_upload="$work/upload.py"
cat >"$py_upload" <<'EOF'
import os, sys
from azure.storage.blob import BlobServiceClient
endpoint, container, path = sys.argv[1:4]
conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=%s;"
        % (os.environ["BENCH_KEY"], endpoint))
svc = BlobServiceClient.from_connection_string(conn)
svc.create_container(container)
with open(path, "rb") as data_stream:
    svc.get_blob_client(container, "bench.bin").upload_blob(data_stream, max_concurrency=8, overwrite=True)
EOF
export BENCH_KEY="$key"

# Runs a command under GNU time; prints "wall user sys maxrss_kib".
measure() {
    local out="$1"; shift
    /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" >"$out.stdout" 2>"$out.stderr" \
        || { cat "$out.stderr" >&2; die "$* failed"; }
    cat "$out"
}

results="$work/results"
: >"$results"
for run in $(seq 1 "$runs"); do
    for client in cutover python; do
        c="bench-$client-$run"
        before="$(azurite_cpu)"
        if [ "$client" = cutover ]; then
            cmd=("$bin" upload --json --all-files --stable-seconds 0 "$work/data" \
                --container "$endpoint/$c" --account-key-env BENCH_KEY --create-container)
            if [ "$profile" = 1 ] && [ "$run" = 1 ]; then
                cmd=(perf record -F 499 -g -o "$work/perf.data" -- "${cmd[@]}")
            fi
        else
            cmd=(python3 "$py_upload" "$endpoint" "$c" "$file")
        fi
        read -r wall user sys rss < <(measure "$work/time-$client-$run" "${cmd[@]}")
        after="$(azurite_cpu)"
        echo "$client $run $wall $user $sys $rss $(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" >>"$results"
        echo "   run $run $client: ${wall}s wall" >&2
    done
done

# Both blobs are there, whole; cutover's blob downloads to the file's MD5 (its CRC64 is in metadata).
python3 - "$endpoint" "$runs" "$bytes" "$local_md5" <<'EOF'
import os, sys
from azure.storage.blob import BlobServiceClient
endpoint, runs, size, md5 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=%s;"
        % (os.environ["BENCH_KEY"], endpoint))
svc = BlobServiceClient.from_connection_string(conn)
for r in range(1, runs + 1):
    for client in ("cutover", "python"):
        p = svc.get_blob_client("bench-%s-%d" % (client, r), "bench.bin").get_blob_properties()
        assert p.size == size, (client, r, p.size)
        if client == "cutover":
            import hashlib
            h = hashlib.md5()
            for chunk in svc.get_blob_client("bench-%s-%d" % (client, r), "bench.bin").download_blob(max_concurrency=4).chunks():
                h.update(chunk)
            assert h.hexdigest() == md5, ("cutover blob MD5", h.hexdigest(), md5)
            assert (p.metadata or {}).get("cutover_crc64"), "cutover_crc64 metadata missing"
print("   blobs checked: sizes, and cutover's blob downloads to md5sum of the file", file=sys.stderr)
EOF

python3 - "$results" "$bytes" "$in_flight_mib" "$size_mib" <<'EOF'
import statistics, sys
path, size, in_flight, size_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = {}
for line in open(path):
    client, run, wall, user, sys_, rss, az = line.split()
    rows.setdefault(client, []).append((float(wall), float(user) + float(sys_), int(rss), float(az)))
gib = size / 2**30
def summary(client):
    r = rows[client]
    wall = statistics.median(x[0] for x in r)
    cpu = statistics.median(x[1] for x in r) / gib
    rss = max(x[2] for x in r) / 1024
    az = statistics.median(x[3] for x in r) / gib
    return wall, size / 1e6 / wall, cpu, rss, az
c, p = summary("cutover"), summary("python")
n = len(rows["cutover"])
print(f"\n{size_mib} MiB file, {n} run(s) of each (median wall and CPU, max RSS), private Azurite")
print(f"{'client':<12}{'wall s':>8}{'MB/s':>8}{'CPU s/GiB':>11}{'peak RSS MiB':>14}{'Azurite CPU s/GiB':>19}")
for name, s in (("cutover", c), ("python-sdk", p)):
    print(f"{name:<12}{s[0]:>8.2f}{s[1]:>8.1f}{s[2]:>11.2f}{s[3]:>14.1f}{s[4]:>19.2f}")
wall_r, cpu_r, rss_r = c[0] / p[0], c[2] / p[2], c[3] / p[3]
print(f"{'ratio c/p':<12}{wall_r:>8.2f}{p[1] and c[1] / p[1]:>8.2f}{cpu_r:>11.2f}{rss_r:>14.2f}")
limit = in_flight + 64
def verdict(ok): return "met" if ok else "MISSED"
print("\ntargets:")
print(f"  wall time no worse than Python:      {wall_r:.2f}x  {verdict(wall_r <= 1.0)}")
print(f"  CPU per GiB <= 0.5x Python's:        {cpu_r:.2f}x  {verdict(cpu_r <= 0.5)}")
print(f"  peak RSS <= in-flight + 64 MiB ({limit} MiB): {c[3]:.0f} MiB  {verdict(c[3] <= limit)}")
EOF

if [ "$profile" = 1 ] && [ -f "$work/perf.data" ]; then
    echo -e "\n== cutover profile (perf, self time by symbol, top 20)"
    perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | head -20
fi
