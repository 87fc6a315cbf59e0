#!/usr/bin/env bash
# Replay throughput against `tcpdump -r` on the same file, measured in the same run, plus peak
# memory with 100,000 concurrent connections. Release build; not part of CI.
#
#   bench/replay.sh [REQUESTS] [CONNECTIONS]
#
# Targets (issue 2): --emit none at >= 0.5x tcpdump's read rate; 100k concurrent flows in 256 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
connections=${2:-20000}
out=bench/out
mkdir -p "$out"

swift build -c release --product diffai >&2
bin=$(swift build -c release --show-bin-path)/diffai

load="$out/load-$requests-$connections.pcap"
[ -f "$load" ] || "$bin" synth load --requests "$requests" --connections "$connections" --concurrency 1000 --out "$load" >&2
flows="$out/concurrent-100000.pcap"
[ -f "$flows" ] || "$bin" synth load --requests 100000 --connections 100000 --concurrency 100000 --out "$flows" >&2

size=$(stat -c %s "$load")
cat "$load" "$flows" > /dev/null  # warm the page cache for every contender

# Wall-clock seconds of one run.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

min() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# The machine's speed drifts: contenders run interleaved, round by round, best of each kept.
tcpdump_s=""; none_s=""; requests_s=""
for _ in $(seq 7); do
    tcpdump_s=$(min "$tcpdump_s" "$(seconds tcpdump -r "$load" -w /dev/null)")
    none_s=$(min "$none_s" "$(seconds "$bin" replay --emit none --no-summary "$load")")
    requests_s=$(min "$requests_s" "$(seconds "$bin" replay --emit requests --no-summary "$load")")
done

peak_rss_mb() {
    /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1 / 1024}'
}

none_rss=$(peak_rss_mb "$bin" replay --emit none --no-summary "$load")
flows_rss=$(peak_rss_mb "$bin" replay --emit none --no-summary --idle-timeout 100000 "$flows")
baseline_rss=$(peak_rss_mb "$bin" replay --emit none --no-summary captures/basic-get.pcap)

mb=$(echo "$size / 1048576" | bc -l)
printf 'capture: %s (%.1f MB, %d requests, %d connections)\n' "$load" "$mb" "$requests" "$connections"
printf '%-34s %9s %12s %10s %8s\n' "contender" "seconds" "requests/s" "MB/s" "ratio"
row() { printf '%-34s %9.3f %12.0f %10.1f %8.2f\n' "$1" "$2" "$(echo "$requests / $2" | bc -l)" "$(echo "$mb / $2" | bc -l)" "$(echo "$tcpdump_s / $2" | bc -l)"; }
row "tcpdump -r FILE -w /dev/null" "$tcpdump_s"
row "diffai replay --emit none" "$none_s"
row "diffai replay --emit requests" "$requests_s"
echo "target: --emit none ratio >= 0.50 (ratio = tcpdump seconds / diffai seconds)"
echo "peak RSS: --emit none ${none_rss} MB; 100,000 concurrent flows ${flows_rss} MB (target <= 256); process baseline ${baseline_rss} MB"
