#!/usr/bin/env bash
# The floods of issue 14 at full scale, replayed with the default configuration (512 MB memory
# budget, default rules and model): peak resident memory, what each flood cost (the summary's
# "not inspected" line), and whether the attack sent after the flood was alerted. Release
# build; not part of CI (the suite runs the same floods scaled down under a 64 MB budget).
#
#   bench/hostile.sh [SCALE]     SCALE divides every flood's size (default 1: the issue's sizes)
#
# Also prints the measured bytes per tracked flow (MemoryBudget.bytesPerFlow is set from it).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
out=bench/out/hostile
mkdir -p "$out"
swift build -c release --product diffai >&2
bin=$(swift build -c release --show-bin-path)/diffai
rules=rules.json

# kind count bytes-per-flow
floods=(
  "syn $((1000000 / scale)) 0"
  "heads $((200000 / scale)) 10000"
  "out-of-order $((100000 / scale)) 10000"
  "fragments $((1000000 / scale)) 0"
  "pipelined $((4000 / scale)) 100000"
)

printf '| flood | packets | peak RSS | budget | cost (not inspected) | attack after it |\n| --- | ---: | ---: | ---: | --- | --- |\n'
for flood in "${floods[@]}"; do
    set -- $flood
    capture="$out/$1-$2-$3.pcap"
    [ -f "$capture" ] || "$bin" synth flood --kind "$1" --count "$2" --bytes-per-flow "$3" --out "$capture" >&2
    "$bin" replay --no-console --json --rules "$rules" "$capture" > "$out/$1.eve" 2> "$out/$1.summary" || true
    packets=$(grep -o '[0-9]* packets' "$out/$1.summary" | head -1 | cut -d' ' -f1)
    peak=$(grep -o 'peak resident [0-9]* MB' "$out/$1.summary" | grep -o '[0-9]*')
    budget=$(grep -o 'of a [0-9]* [MG]B budget' "$out/$1.summary" | sed 's/of a //; s/ budget//')
    cost=$(grep '^not inspected:' "$out/$1.summary" | sed 's/^not inspected: //')
    if grep -q '"src_ip":"203.0.113.7"' "$out/$1.eve" && grep '"src_ip":"203.0.113.7"' "$out/$1.eve" | grep -q '"signature_id":1001'; then
        attack="alerted (rule 1001)"
    else
        attack="**missed**"
    fi
    printf '| %s ×%s | %s | %s MB | %s | %s | %s |\n' "$1" "$2" "$packets" "$peak" "$budget" "$cost" "$attack"
done

# Bytes per flow: a SYN flood that fits the flow table (no eviction), peak RSS over flows.
small=$((100000 / scale))
capture="$out/syn-fit-$small.pcap"
[ -f "$capture" ] || "$bin" synth flood --kind syn --count "$small" --no-attack --out "$capture" >&2
base=$("$bin" replay --no-console --json --rules "$rules" captures/basic-get.pcap 2>&1 | grep -o 'peak resident [0-9]* MB' | grep -o '[0-9]*')
peak=$("$bin" replay --no-console --json --rules "$rules" --memory-budget 4G "$capture" 2>&1 | grep -o 'peak resident [0-9]* MB' | grep -o '[0-9]*')
echo
echo "bytes per tracked flow: $(( (peak - base) * 1048576 / small )) (peak $peak MB with $small flows, $base MB at rest)"
