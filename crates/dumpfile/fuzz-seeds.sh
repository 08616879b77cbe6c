#!/usr/bin/env bash
# Seeds the dump fuzz targets from lab dumps: the first 64 KiB of each dump
# format (headers, notes, bitmaps and the first page descriptors) go to
# fuzz/corpus/dump_open/, flattened streams also to fuzz/corpus/dump_flattened/.
# Usage: crates/dumpfile/fuzz-seeds.sh [LAB_DIR]   (default $KRASH_LAB_DIR or /var/cache/krash-lab)
set -euo pipefail

lab="${1:-${KRASH_LAB_DIR:-/var/cache/krash-lab}}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
open_dir="$repo/fuzz/corpus/dump_open"
flat_dir="$repo/fuzz/corpus/dump_flattened"
mkdir -p "$open_dir" "$flat_dir"

count=0
while IFS= read -r -d '' dump; do
    scenario="$(basename "$(dirname "$dump")")"
    kernel="$(basename "$(dirname "$(dirname "$dump")")")"
    format="${dump##*/vmcore.}"
    seed="$kernel-$scenario-$format"
    head -c 65536 "$dump" > "$open_dir/$seed"
    if [ "$(head -c 12 "$dump" | tr -d '\0')" = "makedumpfile" ]; then
        cp "$open_dir/$seed" "$flat_dir/$seed"
    fi
    count=$((count + 1))
done < <(find "$lab/dumps" -path '*/.*' -prune -o -type f -name 'vmcore.*' ! -name '*.txt' -print0 2>/dev/null)

echo "seeded $count dumps into $open_dir and $flat_dir"
