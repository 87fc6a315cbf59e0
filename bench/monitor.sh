#!/usr/bin/env bash
# Monitor benchmarks (release build, not part of CI), measured in the same run:
#  1. zero latency at a steady load: wrk through Apache to an nginx backend, each connection
#     pacing its requests so the site runs at about half of what it can do here (the load a
#     server is provisioned for), rounds without and with `diffai monitor` watching the
#     Apache → backend link interleaved; medians compared (targets: throughput and p99 within
#     2 %, 0 packets dropped by the kernel or by diffai);
#  2. the same at saturation (reported: on 2 cores wrk, Apache, nginx and diffai then compete
#     for the same CPU, so whatever diffai uses comes out of the web server's throughput);
#  3. alert latency: attack requests sent one by one, time until each alert line is in
#     alert.log (target: p99 ≤ 10 ms over ≥ 200 samples).
#
#   ROUNDS=3 DURATION=10 LOAD_FRACTION=0.5 ANALYSIS_NICE=0 bench/monitor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk nginx apache2; do
    command -v $tool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light apache2 >/dev/null
done
swift build -c release --product diffai >&2
bin=$(swift build -c release --show-bin-path)/diffai
work=$(mktemp -d); chmod 755 "$work"   # nginx workers (nobody) must read www/
backend=18480; front=18481
trap 'kill $(cat $work/nginx.pid 2>/dev/null) 2>/dev/null; kill $(cat $work/apache.pid 2>/dev/null) 2>/dev/null; pkill -f "diffai monitor --interface lo --port $backend" 2>/dev/null || true' EXIT

mkdir -p $work/www && head -c 2048 /dev/zero | tr '\0' 'x' > $work/www/index.html
cat > $work/nginx.conf <<CONF
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$backend; root $work/www; } }
CONF
nginx -c $work/nginx.conf
cat > $work/httpd.conf <<CONF
ServerRoot $work
Listen 127.0.0.1:$front
PidFile $work/apache.pid
ErrorLog $work/apache.err
Mutex file:$work default
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
User www-data
Group www-data
ServerName localhost
ProxyPreserveHost On
ProxyPass / http://127.0.0.1:$backend/
ProxyPassReverse / http://127.0.0.1:$backend/
CONF
apache2 -f $work/httpd.conf -k start
sleep 1

rounds=${ROUNDS:-3}; duration=${DURATION:-10}; fraction=${LOAD_FRACTION:-0.5}
monitor_pid=""
start_monitor() {
    $bin monitor --interface lo --port $backend --console 127.0.0.1:0 --analysis-nice ${ANALYSIS_NICE:-0} --no-ml \
        --stats-interval 0 --alert-log $work/alert.log --eve $work/eve.json > /dev/null 2> $work/monitor.err &
    monitor_pid=$!
    sleep 1
}
stop_monitor() {  # prints "kernel_drops diffai_drops analysed"
    kill -TERM $monitor_pid; wait $monitor_pid || true
    grep -a "final statistics" $work/monitor.err | sed -E 's/.*dropped by the kernel ([0-9]+), dropped by diffai ([0-9]+), analysed ([0-9]+).*/\1 \2 \3/'
}
load() {  # [connections [script]] prints "requests/s p99_ms"
    wrk -t2 -c${1:-16} -d${duration}s --latency ${2:+-s "$2"} "http://127.0.0.1:$front/index.html?q=shoes" | awk '
        /Requests\/sec/ {rps=$2}
        /^ +99%/ {v=$2; if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; p99=v}
        END {print rps, p99}'
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

load > /dev/null  # warm-up
read sat_rps sat_p99 <<< "$(load)"
# Each connection waits 5 ms after each response (wrk's delay()); enough connections that the
# rate comes to about FRACTION of saturation (each request itself takes about a millisecond).
delay_ms=5
connections=$(awk -v r="$sat_rps" -v f="$fraction" -v d="$delay_ms" 'BEGIN {c = int(r * f * (d + 1) / 1000 + 0.5); print (c < 1 ? 1 : c)}')
printf 'function delay() return %d end\n' "$delay_ms" > $work/pace.lua

: > $work/steady-without; : > $work/steady-with; kernel_drops=0; diffai_drops=0; analysed=0
for round in $(seq $rounds); do
    load $connections $work/pace.lua >> $work/steady-without
    start_monitor
    load $connections $work/pace.lua >> $work/steady-with
    read k d a <<< "$(stop_monitor)"
    kernel_drops=$((kernel_drops + k)); diffai_drops=$((diffai_drops + d)); analysed=$((analysed + a))
done
base_rps=$(cut -d' ' -f1 $work/steady-without | median); base_p99=$(cut -d' ' -f2 $work/steady-without | median)
mon_rps=$(cut -d' ' -f1 $work/steady-with | median); mon_p99=$(cut -d' ' -f2 $work/steady-with | median)

start_monitor
read satmon_rps satmon_p99 <<< "$(load)"
read sat_k sat_d sat_a <<< "$(stop_monitor)"

start_monitor
# Alert latency: 250 attacks, one at a time, until each line is in alert.log.
python3 - "$front" "$work/alert.log" <<'PY'
import socket, sys, time, os
port, log = int(sys.argv[1]), sys.argv[2]
samples = []
for i in range(250):
    size = os.path.getsize(log) if os.path.exists(log) else 0
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.perf_counter()
    s.sendall(f"GET /index.html?id={i}%27%20OR%20%271%27=%271 HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
    while (os.path.getsize(log) if os.path.exists(log) else 0) == size:
        if time.perf_counter() - t0 > 2: break
    samples.append((time.perf_counter() - t0) * 1000)
    s.recv(65536); s.close()
samples.sort()
print("alert latency over %d samples: p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 <= 10 ms)" % (len(samples), samples[len(samples)//2], samples[int(len(samples)*0.99)-1], samples[-1]))
PY
stop_monitor > /dev/null

echo "steady load ($rounds rounds of ${duration}s each way, $connections connections pausing ${delay_ms} ms between requests; aimed at ${fraction} of the $sat_rps req/s this Apache does here)"
echo "  without monitor: $base_rps req/s, p99 $base_p99 ms (medians; rounds: $(cut -d' ' -f1 $work/steady-without | tr '\n' ' '))"
echo "  with monitor:    $mon_rps req/s, p99 $mon_p99 ms (rounds: $(cut -d' ' -f1 $work/steady-with | tr '\n' ' '))"
awk -v a="$base_rps" -v b="$mon_rps" -v c="$base_p99" -v d="$mon_p99" 'BEGIN {printf "  ratio with/without: throughput %.3f, p99 latency %.3f (targets: throughput >= 0.98, p99 <= 1.02)\n", b/a, d/c}'
echo "  packets analysed $analysed, dropped by the kernel $kernel_drops, dropped by diffai $diffai_drops (target 0 and 0)"
echo "saturation (16 connections, no pacing): without $sat_rps req/s p99 $sat_p99 ms, with $satmon_rps req/s p99 $satmon_p99 ms"
awk -v a="$sat_rps" -v b="$satmon_rps" 'BEGIN {printf "  ratio with/without: throughput %.3f\n", b/a}'
echo "  packets analysed $sat_a, dropped by the kernel $sat_k, dropped by diffai $sat_d"
