#!/usr/bin/env bash
# Monitor benchmarks (release build, not part of CI), measured in the same run:
#  1. zero latency: wrk through Apache to an nginx backend, without and with `diffai monitor`
#     watching the Apache → backend link (targets: throughput and p99 within 2 %, 0 drops);
#  2. alert latency: attack requests sent one by one, time until each alert line is in
#     alert.log (target: p99 ≤ 10 ms over ≥ 200 samples).
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

load() {  # prints "requests/s p99_ms"
    wrk -t2 -c16 -d10s --latency "http://127.0.0.1:$front/index.html?q=shoes" | awk '
        /Requests\/sec/ {rps=$2}
        /^ +99%/ {v=$2; if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; p99=v}
        END {print rps, p99}'
}
load > /dev/null  # warm-up
read base_rps base_p99 <<< "$(load)"
$bin monitor --interface lo --port $backend --console 127.0.0.1:0 --analysis-nice ${ANALYSIS_NICE:-0} --no-ml --stats-interval 0 --alert-log $work/alert.log --eve $work/eve.json > /dev/null 2> $work/monitor.err &
sleep 1
read mon_rps mon_p99 <<< "$(load)"

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
kill -TERM %1; wait %1 || true
echo "throughput through Apache: without monitor $base_rps req/s (p99 $base_p99 ms), with monitor $mon_rps req/s (p99 $mon_p99 ms)"
awk -v a="$base_rps" -v b="$mon_rps" -v c="$base_p99" -v d="$mon_p99" 'BEGIN {printf "ratio with/without: throughput %.3f, p99 latency %.3f (targets: throughput >= 0.98, p99 <= 1.02)\n", b/a, d/c}'
grep "final statistics" $work/monitor.err
