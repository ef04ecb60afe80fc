#!/usr/bin/env bash
# Checks that two builds of `twin` give byte-identical results: every
# scenario of the library (scenarios/*.toml) and every example scenario
# (examples/*.toml) is run by both, with `--format json --out DIR`, and the
# JSON summaries and every file each run writes are compared byte for byte.
# A refactoring that promises "no behaviour change" is checked with it:
#
#   git worktree add ../twin-before <commit> && (cd ../twin-before && cargo build --release)
#   cargo build --release
#   scripts/same-output.sh ../twin-before/target/release/twin target/release/twin
#
# Extra arguments after the two binaries are scenario files to run instead of
# the whole library. Scenarios that read ../shared/data are run from this
# checkout, as `twin run` finds their files relative to them. Exits 0 when
# everything is identical, 1 otherwise (naming each difference).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -lt 2 ]; then
    echo "usage: scripts/same-output.sh OLD_TWIN NEW_TWIN [SCENARIO.toml ...]" >&2
    exit 2
fi
old="$(realpath "$1")"
new="$(realpath "$2")"
shift 2
if [ "$#" -gt 0 ]; then
    scenarios=("$@")
else
    scenarios=(scenarios/*.toml examples/*.toml)
fi

# The recording examples/recorded-fleet.toml replays is made, not kept (its
# header says how); both builds then read the same file.
if [ ! -f examples/fleet-week.parquet ]; then
    "$old" trace synth --gpus 64 --span 7d --interval 10s --out examples/fleet-week.parquet >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
differ=0
for s in "${scenarios[@]}"; do
    name="$(basename "$s" .toml)"
    for side in old new; do
        bin="$old"
        [ "$side" = new ] && bin="$new"
        mkdir -p "$work/$side/$name"
        if ! "$bin" run "$s" --format json --out "$work/$side/$name/out" >"$work/$side/$name/stdout.json" 2>"$work/$side/$name/stderr.txt"; then
            echo "FAIL   $s: the $side build failed:" >&2
            tail -5 "$work/$side/$name/stderr.txt" >&2
            differ=1
            continue 2
        fi
    done
    files="$(cd "$work/old/$name" && find . -type f ! -name stderr.txt | sort)"
    newfiles="$(cd "$work/new/$name" && find . -type f ! -name stderr.txt | sort)"
    if [ "$files" != "$newfiles" ]; then
        echo "DIFFER $s: the builds wrote different files" >&2
        diff <(echo "$files") <(echo "$newfiles") >&2 || true
        differ=1
        continue
    fi
    bad=0
    while IFS= read -r f; do
        if ! cmp -s "$work/old/$name/$f" "$work/new/$name/$f"; then
            echo "DIFFER $s: $f" >&2
            bad=1
        fi
    done <<<"$files"
    if [ "$bad" -eq 0 ]; then
        echo "SAME   $s ($(echo "$files" | wc -l) files)"
    else
        differ=1
    fi
done
exit "$differ"
