#!/usr/bin/env bash
# Inline proxy benchmark (release build, not part of CI), measured in the same run:
# wrk against an nginx backend directly, through `diffai proxy --block`, and through nginx as a
# reverse proxy (keepalive upstream), at 1, 16 and 64 connections; then memory of the proxy
# over a longer run. Targets: throughput >= 0.8x nginx's, added p99 <= 1 ms at 16 connections,
# memory flat. Each connection count runs ROUNDS (default 5) interleaved rounds of the three
# paths and reports medians: the machine is shared and noisy, and a single 10-second point
# moved the ratio by ±0.1 between runs. DURATION (seconds per point, default 5) and SOAK
# (seconds, default 600) adjust it.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk nginx; do
    command -v $tool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
done
swift build -c release --product diffai >&2
bin=$(swift build -c release --show-bin-path)/diffai
work=$(mktemp -d); chmod 755 "$work"   # nginx workers (nobody) must read www/
backend=18580; nginxproxy=18581; diffai=18582
duration=${DURATION:-5}; soak=${SOAK:-600}; rounds=${ROUNDS:-5}
trap 'kill $(cat $work/nginx.pid 2>/dev/null) $(cat $work/backend.pid 2>/dev/null) 2>/dev/null; pkill -f "diffai proxy --listen 127.0.0.1:$diffai" 2>/dev/null || true' EXIT

mkdir -p $work/www && head -c 2048 /dev/zero | tr '\0' 'x' > $work/www/index.html
# The backend and the nginx reverse proxy are separate nginx instances, as a reverse proxy and
# the application server behind it are: with both in one worker, nginx's hop to the backend
# never left its own process (no wake-up of another process), which no real deployment has.
cat > $work/backend.conf <<CONF
worker_processes 1; pid $work/backend.pid; error_log $work/backend.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$backend; root $work/www; } }
CONF
cat > $work/nginx.conf <<CONF
worker_processes auto; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$backend; keepalive 64; }
  server { listen 127.0.0.1:$nginxproxy; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host; } }
}
CONF
nginx -c $work/backend.conf
nginx -c $work/nginx.conf
$bin proxy --listen 127.0.0.1:$diffai --upstream 127.0.0.1:$backend --block --no-console --quiet ${PROXY_ARGS:-} \
    --alert-log $work/alert.log --eve $work/eve.json 2> $work/proxy.err &
proxy_pid=$!
sleep 1.5

load() {  # port connections [script] -> "requests/s p99_ms"
    wrk -t$(( $2 < 2 ? 1 : 2 )) -c$2 -d${duration}s --latency ${3:+-s "$3"} "http://127.0.0.1:$1/index.html?q=running+shoes&page=2" | awk '
        /Requests\/sec/ {rps=$2}
        /^ +99%/ {v=$2; if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; p99=v}
        END {print rps, p99}'
}
load $backend 16 > /dev/null; load $diffai 16 > /dev/null; load $nginxproxy 16 > /dev/null   # warm-up
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf "%-12s %-22s %-22s %-22s %-14s %-22s %s\n" connections "direct req/s (p99 ms)" "nginx proxy" "diffai proxy --block" "diffai/nginx" "(each round)" "added p99 vs direct"
for c in 1 16 64; do
    d_all=""; n_all=""; p_all=""; dl_all=""; pl_all=""; nl_all=""; ratios=""
    for ((r = 0; r < rounds; r++)); do
        read d_rps d_p99 <<< "$(load $backend $c)"
        read n_rps n_p99 <<< "$(load $nginxproxy $c)"
        read p_rps p_p99 <<< "$(load $diffai $c)"
        d_all="$d_all $d_rps"; n_all="$n_all $n_rps"; p_all="$p_all $p_rps"
        dl_all="$dl_all $d_p99"; nl_all="$nl_all $n_p99"; pl_all="$pl_all $p_p99"
        ratios="$ratios $(awk -v a=$p_rps -v b=$n_rps 'BEGIN {printf "%.2f", a/b}')"
    done
    d_rps=$(echo $d_all | median); n_rps=$(echo $n_all | median); p_rps=$(echo $p_all | median)
    d_p99=$(echo $dl_all | median); n_p99=$(echo $nl_all | median); p_p99=$(echo $pl_all | median)
    ratio=$(echo $ratios | median)
    added=$(awk -v a=$p_p99 -v b=$d_p99 'BEGIN {printf "%.2f ms", a-b}')
    printf "%-12s %-22s %-22s %-22s %-14s %-22s %s\n" $c "$(printf '%.0f' $d_rps) ($d_p99)" "$(printf '%.0f' $n_rps) ($n_p99)" "$(printf '%.0f' $p_rps) ($p_p99)" "${ratio}x" "$(echo $ratios | tr ' ' '/')" "$added"
done

# Added latency at a steady load: 16 connections each pausing 2 ms after every response, well
# below saturation on every path, so p99 shows what a hop adds rather than queueing (at 16
# unpaced connections even the direct path is saturated and its p99 swings between runs).
printf 'function delay() return 2 end\n' > $work/pace.lua
read d_rps d_p99 <<< "$(load $backend 16 $work/pace.lua)"
read n_rps n_p99 <<< "$(load $nginxproxy 16 $work/pace.lua)"
read p_rps p_p99 <<< "$(load $diffai 16 $work/pace.lua)"
echo "steady load, 16 connections pausing 2 ms: p99 direct $d_p99 ms ($d_rps req/s), nginx proxy $n_p99 ms ($n_rps req/s), diffai proxy --block $p_p99 ms ($p_rps req/s)"
awk -v d=$d_p99 -v n=$n_p99 -v p=$p_p99 'BEGIN {printf "  added p99 over direct: nginx %.2f ms, diffai %.2f ms (target for diffai: <= 1 ms)\n", n-d, p-d}'

# Memory over a longer run at 16 connections: RSS sampled every 10 s.
rss() { kill -0 $proxy_pid 2>/dev/null || { echo "the proxy exited during the soak" >&2; exit 1; }; awk '/VmRSS/ {print $2}' /proc/$proxy_pid/status; }
echo "soak: ${soak}s at 16 connections; RSS of the proxy (MB):"
wrk -t2 -c16 -d${soak}s "http://127.0.0.1:$diffai/index.html?q=x" > /dev/null &
wrk_pid=$!
samples=""
for ((t = 0; t < soak; t += 10)); do sleep 10; samples="$samples $(( $(rss) / 1024 ))"; done
wait $wrk_pid
echo " $samples"
first=$(echo $samples | awk '{print $2}'); last=$(echo $samples | awk '{print $NF}')
echo "RSS after warm-up ${first} MB, at the end ${last} MB"
