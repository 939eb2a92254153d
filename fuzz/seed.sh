#!/usr/bin/env bash
# Seeds the fuzz corpus (fuzz/corpus/read_header, git-ignored) from the real sample backups: the first
# 16 KiB and the last 16 KiB of each file, where the headers the reader parses live, and every whole file
# of at most 128 KiB. The samples are not copied into the repository (they carry no licence); run this on
# a machine that has ../shared beside main, or pass the samples folder as the first argument.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
samples="${1:-$here/../../shared/samples/appveyor-lab}"
out="$here/corpus/read_header"
if [ ! -d "$samples" ]; then
    echo "error: $samples not found (pass the samples folder as the first argument)" >&2
    exit 1
fi
mkdir -p "$out"
n=0
while IFS= read -r -d '' f; do
    name="$(echo "${f#"$samples"/}" | tr '/ ' '__')"
    head -c 16384 "$f" >"$out/head_$name"
    tail -c 16384 "$f" >"$out/tail_$name"
    # Whole small files (log backups) too, so the fuzzer starts from inputs that read back Ok.
    if [ "$(stat -c %s "$f")" -le 131072 ]; then
        cp "$f" "$out/whole_$name"
    fi
    n=$((n + 1))
done < <(find "$samples" -type f \( -iname '*.bak' -o -iname '*.trn' -o -name 'Noextension*' \) -print0)
echo "seeded $out from $n sample files ($(find "$out" -type f | wc -l) inputs in the corpus)"
