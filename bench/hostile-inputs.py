#!/usr/bin/env python3
"""The hostile set beyond floods, against a release diffai: mutated captures (replay), malformed
rule and model files (rules check, classify), abuse of a running proxy (oversize, not HTTP,
trickling bodies, pipelining without reading, garbage), and DNS-rebinding names against a running
console. Prints one Markdown table row per kind: what was tried, how many inputs, what happened.
Seeded: the same seed gives the same inputs.

    bench/hostile-inputs.py DIFFAI_BINARY [SEED]
"""
import glob, json, os, random, signal, socket, struct, subprocess, sys, tempfile, threading, time

diffai = sys.argv[1]
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 14)
work = tempfile.mkdtemp(prefix="diffai-hostile-")
rules = "rules.json"

def mutate(data, count):
    data = bytearray(data)
    for _ in range(count):
        kind = rng.randrange(5)
        if not data: data = bytearray(b"\0")
        at = rng.randrange(len(data))
        if kind == 0: data[at] = rng.randrange(256)
        elif kind == 1: data[at] ^= 1 << rng.randrange(8)
        elif kind == 2: data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif kind == 3: del data[at:at + rng.randrange(1, 64)]
        else:
            # A field that says how long something is: the classic way to make a reader overrun.
            data[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x00\x00\x01\x00"])
    return bytes(data)

def run(arguments, stdin=None, timeout=60):
    try:
        result = subprocess.run(arguments, input=stdin, capture_output=True, timeout=timeout)
        return result.returncode
    except subprocess.TimeoutExpired:
        return "timeout"

def tally(codes):
    crashes = sum(1 for c in codes if c == "timeout" or (isinstance(c, int) and (c < 0 or c >= 128)))
    kinds = {}
    for c in codes: kinds[c] = kinds.get(c, 0) + 1
    return crashes, ", ".join("exit %s ×%d" % (k, v) for k, v in sorted(kinds.items(), key=lambda kv: str(kv[0])))

rows = []

# Mutated captures: every fixture, mutated 1-40 times each, replayed with detection.
captures = [c for c in sorted(glob.glob("captures/*.pcap*"))]
codes = []
n = int(os.environ.get("MUTATIONS", "2000"))
for i in range(n):
    source = open(rng.choice(captures), "rb").read()
    path = os.path.join(work, "m.pcap")
    open(path, "wb").write(mutate(source, rng.randrange(1, 40)))
    codes.append(run([diffai, "replay", "--no-console", "--no-summary", "--emit", "none", path]))
crashes, kinds = tally(codes)
rows.append(("mutated capture files (fixtures, 1–40 byte mutations anywhere), `replay`", n, crashes, kinds + " (2: file not readable to its end)"))

# Mutated packets in intact files: the records stay readable, the frames inside do not.
def records(data):
    if data[:4] != b"\xd4\xc3\xb2\xa1": return None
    out, offset = [], 24
    while offset + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        out.append((data[offset:offset + 16], data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    return data[:24], out
classic = [c for c in captures if records(open(c, "rb").read())]
codes = []
for i in range(n):
    header, frames = records(open(rng.choice(classic), "rb").read())
    body = b""
    for record, frame in frames:
        if rng.randrange(3) == 0: frame = mutate(frame, rng.randrange(1, 6))
        body += record[:8] + struct.pack("<II", len(frame), len(frame) + rng.choice([0, 0, 0, 7])) + frame
    path = os.path.join(work, "p.pcap")
    open(path, "wb").write(header + body)
    codes.append(run([diffai, "replay", "--no-console", "--no-summary", "--emit", "none", path]))
crashes, kinds = tally(codes)
rows.append(("mutated packets in intact capture files (a third of the frames, 1–5 mutations each), `replay`", n, crashes, kinds))

# Malformed rule files: mutations of the default file, and numbers and nesting at their limits.
codes = []
base = open(rules, "rb").read()
specials = [b'[{"id":1,"alert":"x","url":"a","rev":1e19}]', b'[{"id":1e400,"alert":"x","url":"a"}]',
            b"[" * 100000, b'[{"alert":"x","conditions":[{"target":"url","operator":"regex","value":"(a+)+$"}]}]',
            b'[{"alert":"\\ud800","url":"a"}]', b'\xff\xfe[]', b'[{"alert":"x","url":"a","rev":-0}]']
n = int(os.environ.get("RULE_FILES", "1000"))
for i in range(n):
    data = specials[i] if i < len(specials) else mutate(base, rng.randrange(1, 20))
    path = os.path.join(work, "r.json")
    open(path, "wb").write(data)
    codes.append(run([diffai, "rules", "check", path]))
crashes, kinds = tally(codes)
rows.append(("malformed rule files (mutated rules.json, huge numbers, deep nesting), `rules check`", n, crashes, kinds + " (65: refused with its position)"))

# Malformed model files: mutations of a small real model, checksum rewritten so they get past it.
def checksum(body):
    h = 2166136261
    for byte in body: h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h
model = open("Dataset/diffai-model.bin", "rb").read()
codes = []
n = int(os.environ.get("MODEL_FILES", "300"))
for i in range(n):
    body = bytearray(mutate(model[:-4], rng.randrange(1, 10)))
    if i % 3 == 0 and len(body) > 40:
        body[28:32] = rng.choice([b"\x00\x00\xc0\x7f", b"\x00\x00\x80\xff", b"\x00\x00\x80\x7f", b"\xff\xff\x7f\x7f"])  # the bias
    path = os.path.join(work, "m.bin")
    open(path, "wb").write(bytes(body) + struct.pack("<I", checksum(body)))
    codes.append(run([diffai, "classify", "--model", path], stdin=b"/index.html\n/a?id=1' or '1'='1\n"))
crashes, kinds = tally(codes)
rows.append(("malformed model files (mutated, NaN/inf bias, checksum rewritten), `classify`", n, crashes, kinds + " (66: refused, with why)"))

# Proxy abuse against a running proxy (release) in front of a small backend.
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

backend_port, proxy_port, console_port = free_port(), free_port(), free_port()
backend = subprocess.Popen([sys.executable, "-c", """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0); self.rfile.read(n); self.do_GET()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""", str(backend_port)])
proxy = subprocess.Popen([diffai, "proxy", "--listen", "127.0.0.1:%d" % proxy_port, "--upstream", "127.0.0.1:%d" % backend_port,
                          "--block", "--no-ml", "--quiet", "--rules", rules, "--alert-log", os.path.join(work, "p.log"),
                          "--eve", os.path.join(work, "p.eve"), "--no-console", "--body-timeout", "2", "--header-timeout", "3"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.5)

def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"): return int(line.split()[1]) // 1024
    return 0

def exchange(payload, pause=0.0, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    try:
        for piece in payload:
            s.sendall(piece)
            if pause: time.sleep(pause)
        if not read: return b""
        answer = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk: break
            answer += chunk
            if b"\r\n\r\n" in answer and len(answer) > 200: break
        return answer
    except OSError:
        return b"(cut off)"
    finally:
        s.close()

# Warm up first (connections, buffers, detection's scratch): "before" is the proxy at work.
for i in range(200):
    exchange([b"GET /warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
    exchange([b"GET /?q=1%27%20UNION%20SELECT%20pw HTTP/1.1\r\nHost: x\r\n\r\n"])
time.sleep(1.5)
before = rss(proxy.pid)
statuses = {}
def note(answer):
    key = answer[9:12].decode(errors="replace") if answer.startswith(b"HTTP/1.1 ") else ("closed" if not answer else answer.decode(errors="replace").strip("()"))
    statuses[key] = statuses.get(key, 0) + 1

cases = 0
for i in range(300):
    note(exchange([b"GET /?q=", b"a" * 9000])); cases += 1                     # oversize line
    note(exchange([b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-A: " + b"b" * 40000])); cases += 1   # oversize head
    note(exchange([bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))])); cases += 1  # garbage
    note(exchange([b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"])); cases += 1  # TLS on plain port
    note(exchange([b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"])); cases += 1         # space in target
    note(exchange([b"GET /?q=1%27%20UNION%20SELECT%20pw HTTP/1.1\r\nHost: x\r\n\r\n"])); cases += 1  # attack
    note(exchange([mutate(b"POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 3)])); cases += 1
# Trickling bodies (slow POST) and slowloris heads, 100 each at once.
threads = []
for i in range(100):
    threads.append(threading.Thread(target=lambda: note(exchange([b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"] + [b"a"] * 12, pause=0.4, timeout=8))))
    threads.append(threading.Thread(target=lambda: note(exchange([b"GET / HTTP/1.1\r\n"] + [b"X: y\r\n"] * 10, pause=0.5, timeout=8))))
for t in threads: t.start()
for t in threads: t.join()
cases += 200
# Pipelining without reading: 8 clients, 200,000 requests each offered.
clients = []
for i in range(8):
    s = socket.create_connection(("127.0.0.1", proxy_port)); s.setblocking(False); clients.append(s)
burst = b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
for _ in range(100):
    for s in clients:
        try: s.send(burst)
        except OSError: pass
time.sleep(1)
during = rss(proxy.pid)
for s in clients: s.close()
cases += 8
time.sleep(2)
note(exchange([b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]))
time.sleep(1.5)
after = rss(proxy.pid)
alive = proxy.poll() is None
answer = exchange([b"GET /still HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
served = answer.startswith(b"HTTP/1.1 200")
proxy.send_signal(signal.SIGTERM); proxy.wait(timeout=20); backend.kill()
rows.append(("proxy abuse: oversize lines and heads, garbage, TLS, spaced targets, attacks, mutated smuggling, 100 trickling bodies, 100 slowloris heads, 8 clients pipelining 200,000 requests without reading",
             cases, 0 if alive else 1,
             "answers: %s; RSS %d MB before, %d MB during the pipelining flood, %d MB after; still serving: %s"
             % (", ".join("%s ×%d" % kv for kv in sorted(statuses.items())), before, during, after, "yes" if served else "NO")))

# DNS rebinding against a running console: every state-changing endpoint under many names.
console = subprocess.Popen([diffai, "console", "--console", "127.0.0.1:%d" % console_port, "--eve", os.path.join(work, "c.eve"),
                            "--rules", rules, "--console-token-file", os.path.join(work, "token")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(2)
names = ["127.attacker.tld", "127.0.0.1.evil.example", "localhost.evil", "rebind.example", "127.1", "0x7f000001", "2130706433",
         "[::1].evil", "127.0.0.1:%d.evil" % console_port, "LOCALHOST.evil"] + ["127.%d.%d.%d.rebind.example" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(20)]
endpoints = [("POST", "/api/rules/reload", b""), ("POST", "/api/datasets?name=x.txt", b"/a\n"),
             ("POST", "/api/training", b'{"benign":"Dataset/good.txt","malicious":"Dataset/bad.txt"}'), ("POST", "/api/training/1/activate", b""),
             ("GET", "/api/stats", b""), ("GET", "/api/alerts", b""), ("GET", "/api/rules", b""), ("GET", "/ws", b"")]
allowed = 0
tried = 0
for name in names:
    host = name if (":%d" % console_port) in name else "%s:%d" % (name, console_port)
    for method, path, body in endpoints:
        headers = "Host: %s\r\nOrigin: http://%s\r\nContent-Length: %d\r\nConnection: close\r\n" % (host, host, len(body))
        if path == "/ws": headers += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        s = socket.create_connection(("127.0.0.1", console_port), timeout=5)
        s.sendall(("%s %s HTTP/1.1\r\n%s\r\n" % (method, path, headers)).encode() + body)
        answer = s.recv(4096); s.close()
        tried += 1
        status = answer[9:12]
        if status in (b"200", b"101", b"202"): allowed += 1
console.send_signal(signal.SIGTERM); console.wait(timeout=20)
rows.append(("DNS rebinding: %d Host names (prefix, suffix, short and numeric forms of 127.0.0.1) × %d endpoints (every state change, reads, the live stream), with matching Origin" % (len(names), len(endpoints)),
             tried, 0, "%d allowed (every other one refused: 401 token required)" % allowed))

print("| what was tried | inputs | crashes | what happened |")
print("| --- | ---: | ---: | --- |")
for what, count, crashes, result in rows:
    print("| %s | %d | %d | %s |" % (what, count, crashes, result))
