#!/usr/bin/env bash
# Per-request detection cost through the whole replay pipeline (release build, not in CI):
# replays generated benign traffic (bench/quality's captures) with the default rules and model,
# with the rules alone, and with neither (parsing only: the baseline measured in the same run),
# five rounds each, and prints the medians and the cost per request above the baseline.
#
#   bench/detection-replay.sh [CAPTURE...]   (default: the shop site and CSIC normal captures;
#                                             make them with bench/quality/evaluate.py --keep)
set -euo pipefail
cd "$(dirname "$0")/.."
diffai=.build/release/diffai
[ -x "$diffai" ] || swift build -c release >&2
captures=("$@")
[ ${#captures[@]} -gt 0 ] || captures=(bench/out/quality/site-shop--.pcap bench/out/quality/CSIC-normal--.pcap)
empty=$(mktemp --suffix=.json); echo '[]' > "$empty"
trap 'rm -f "$empty"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() {   # one run, wall seconds
    local start end
    start=$(date +%s.%N)
    "$diffai" replay --no-console --no-summary --json "$@" > /dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
printf '| capture | requests | parse only (s) | rules (s) | rules + model (s) | rules µs/request | rules + model µs/request |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for capture in "${captures[@]}"; do
    requests=$("$diffai" replay --no-console --emit requests --no-ml --rules "$empty" "$capture" 2>/dev/null | wc -l)
    base=(); rules=(); full=()
    for _ in 1 2 3 4 5; do
        base+=("$(seconds --no-ml --rules "$empty" "$capture")")
        rules+=("$(seconds --no-ml "$capture")")
        full+=("$(seconds "$capture")")
    done
    b=$(printf '%s\n' "${base[@]}" | median); r=$(printf '%s\n' "${rules[@]}" | median); f=$(printf '%s\n' "${full[@]}" | median)
    printf '| %s | %d | %.3f | %.3f | %.3f | %.1f | %.1f |\n' "$(basename "$capture")" "$requests" "$b" "$r" "$f" \
        "$(echo "($r - $b) * 1000000 / $requests" | bc -l)" "$(echo "($f - $b) * 1000000 / $requests" | bc -l)"
done
