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

# Fragments: what one costs as a datagram's fragment count grows (the overlap check was
# quadratic: 8,191 fragments a datagram made each ~20x dearer). Same bytes, 8-byte fragments
# against 32 KiB ones; nanoseconds per fragment, median of 5 rounds.
few="$out/fragmented-32768.pcap"; many="$out/fragmented-8.pcap"
[ -f "$few" ] || "$bin" synth flood --kind fragmented --count $((4000 / scale)) --bytes-per-flow 32768 --no-attack --out "$few" >&2
[ -f "$many" ] || "$bin" synth flood --kind fragmented --count $((40 / scale > 0 ? 40 / scale : 1)) --bytes-per-flow 8 --no-attack --out "$many" >&2
elapsed() {
    local start end
    start=$(date +%s%N)
    "$bin" replay --no-console --no-ml --emit none --rules "$rules" "$1" > /dev/null 2>&1
    end=$(date +%s%N)
    echo $(( end - start ))
}
median() { sort -n | sed -n 3p; }
startup=$(for _ in 1 2 3 4 5; do elapsed captures/basic-get.pcap; done | median)
per_fragment() {
    local packets
    packets=$("$bin" replay --no-console --no-ml --emit none --rules "$rules" "$1" 2>&1 | grep -o '[0-9]* packets' | head -1 | cut -d' ' -f1)
    echo $(( ($(elapsed "$1") - startup) / packets ))
}
few_ns=$(for _ in 1 2 3 4 5; do per_fragment "$few"; done | median)
many_ns=$(for _ in 1 2 3 4 5; do per_fragment "$many"; done | median)
echo "fragments: $few_ns ns each at 2 per datagram, $many_ns ns each at 8,191 per datagram (ratio $(echo "scale=2; $many_ns / $few_ns" | bc))"
