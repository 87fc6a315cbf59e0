#!/usr/bin/env python3
"""Seed corpora for the fuzz harnesses, written from the repository's own material: the
fixture captures in captures/ (frames, segments, HTTP streams), rules.json, a tiny model in the
real file format, and alert lines of both formats. Each seed is in its harness's input format
(see Fuzz/Harnesses/FuzzInput.swift and each harness's comment).

    Fuzz/make-seeds.py OUT_FOLDER
"""
import glob, json, os, struct, sys

out = sys.argv[1]
LINKTYPES = {1: 0, 0: 1, 108: 2, 113: 3, 276: 4, 101: 5, 228: 6, 229: 7}  # pcap linktype -> harness choice

def frames(path):
    """(linktype, frame bytes) of a classic pcap or pcapng file; nothing for anything else."""
    data = open(path, "rb").read()
    result = []
    if data[:4] == b"\xd4\xc3\xb2\xa1":
        linktype = struct.unpack_from("<I", data, 20)[0]
        offset = 24
        while offset + 16 <= len(data):
            caplen = struct.unpack_from("<I", data, offset + 8)[0]
            result.append((linktype, data[offset + 16:offset + 16 + caplen]))
            offset += 16 + caplen
    elif data[:4] == b"\x0a\x0d\x0d\x0a":
        offset, linktype = 0, 1
        while offset + 12 <= len(data):
            kind, length = struct.unpack_from("<II", data, offset)
            if length < 12: break
            if kind == 1: linktype = struct.unpack_from("<H", data, offset + 8)[0]
            if kind == 6:
                caplen = struct.unpack_from("<I", data, offset + 20)[0]
                result.append((linktype, data[offset + 28:offset + 28 + caplen]))
            offset += length
    return result

def tcp_segments(frame, linktype):
    """(source, destination, seq, ack, flags, payload) of an IPv4/IPv6 TCP frame, or None."""
    skip = {1: 14, 0: 4, 108: 4, 113: 16, 276: 20, 101: 0, 228: 0, 229: 0}.get(linktype)
    if skip is None or len(frame) < skip + 20: return None
    ip = frame[skip:]
    if linktype == 1 and frame[12:14] == b"\x81\x00": ip = frame[18:]
    version = ip[0] >> 4
    if version == 4:
        header = (ip[0] & 15) * 4
        if ip[9] != 6: return None
        tcp, src, dst = ip[header:struct.unpack_from(">H", ip, 2)[0]], ip[12:16], ip[16:20]
    elif version == 6 and len(ip) >= 60 and ip[6] == 6:
        tcp, src, dst = ip[40:], ip[8:24], ip[24:40]
    else:
        return None
    if len(tcp) < 20: return None
    offset = (tcp[12] >> 4) * 4
    seq, ack = struct.unpack_from(">II", tcp, 4)
    return (src + tcp[0:2], dst + tcp[2:4], seq, ack, tcp[13], tcp[offset:])

def write(harness, name, data):
    folder = os.path.join(out, harness)
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, name), "wb").write(data)

captures = sorted(glob.glob("captures/*.pcap*"))
for path in captures:
    base = os.path.basename(path)
    found = frames(path)
    # packets: [link type choice][length u16][frame][wire extra][time step]
    packets = b"".join(bytes([LINKTYPES.get(lt, 0)]) + struct.pack(">H", min(len(f), 4095)) + f[:4095] + b"\x00\x01"
                       for lt, f in found)
    if packets: write("packets", base, packets)
    segments = [s for s in (tcp_segments(f, lt) for lt, f in found) if s]
    if not segments: continue
    client = segments[0][0]
    # tcp: [control][flags][seq u16][ack u16][length][payload][missing][time][window u16]
    base_seq = {segments[0][0]: segments[0][2]}
    tcp = b""
    for src, dst, seq, ack, flags, payload in segments:
        control = 0 if src == client else 0x20
        base_seq.setdefault(src, seq)
        tcp += bytes([control, flags]) + struct.pack(">HH", (seq - base_seq[src] + 100) & 0xFFFF, ack & 0xFFFF)
        tcp += bytes([min(len(payload), 255)]) + payload[:255] + b"\x00\x01\xff\xff"
    write("tcp", base, tcp)
    # http, proxy: pieces of [length][control + bytes]; control 0x40 = client, 0x41 = server
    http = b""
    proxy = b""
    for src, dst, seq, ack, flags, payload in segments:
        for start in range(0, len(payload), 200):
            piece = payload[start:start + 200]
            control = 0x40 if src == client else 0x41
            http += bytes([len(piece) + 1]) + bytes([control]) + piece
            if src == client and piece[:1] >= b"\x08":
                proxy += bytes([len(piece)]) + piece
    if http: write("http", base, http)
    if proxy: write("proxy", base, proxy)

# rules: the default file, and small files using each part of the format
write("rules", "rules.json", open("rules.json", "rb").read())
for index, rule in enumerate(json.load(open("rules.json"))[:40]):
    write("rules", "rule-%02d.json" % index, json.dumps([rule]).encode())
write("rules", "exclusions.json", json.dumps([json.load(open("rules.json"))[0],
    {"exclusion": "path", "rules": [json.load(open("rules.json"))[0]["id"]], "path_prefix": "/admin/", "parameters": ["content"]},
    {"exclusion": "net", "rules": ["1-999999"], "client": "10.0.0.0/8", "host": "intra.example"}]).encode())
write("rules", "original-format.json", b'[{"url": "evil", "alert": "x"}, {"headers": {"Host": "localhost"}, "alert": "y"}, {"content": "a", "method": "POST", "alert": "z"}]')

# model: the real format with 2^10 buckets (8 KiB), so mutations stay cheap
def model(bits=10, threshold=0.7, bias=-1.5):
    buckets = 1 << bits
    body = b"DIFFAIML" + struct.pack("<IIII", 1, 1, 3, bits) + struct.pack("<ff", threshold, bias)
    info = b"fuzz seed"
    body += struct.pack("<I", len(info)) + info
    body += b"".join(struct.pack("<f", 1.0 + (i % 7) / 10) for i in range(buckets))
    body += b"".join(struct.pack("<f", ((i * 37) % 200 - 100) / 50) for i in range(buckets))
    h = 2166136261
    for byte in body: h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return body + struct.pack("<I", h)
write("model", "tiny.bin", model())

# alert files: first byte 0 = EVE, 1 = alert.log
eve = b""
for n in range(20):
    eve += json.dumps({"timestamp": "2026-12-01T00:00:00.000000+0000", "event_type": "alert", "src_ip": "10.0.0.%d" % n, "src_port": 40000 + n,
                       "dest_ip": "10.0.0.2", "dest_port": 80, "alert": {"signature_id": 1000 + n, "signature": "probe %d" % n, "severity": 2, "category": "x"},
                       "http": {"url": "/a?b=%d" % n, "hostname": "h"}, "diffai": {"severity": "medium", "source": "rule"}}).encode() + b"\n"
write("alert-files", "eve.json", b"\x00" + eve)
log = b"".join(b"1764547200 - probe %d | src=10.0.0.1:%d dst=10.0.0.2:80 method=GET url=/x?%d rule=%d severity=medium\n" % (n, 40000 + n, n, 1000 + n) for n in range(20))
write("alert-files", "alert.log", b"\x01" + log)

# tls: real sessions (the test suite's generator, Python's ssl on both ends over memory BIOs),
# each flight cut into pieces of direction byte, length byte (length - 1) and bytes
def tls_seed(version, suite, certificate):
    import subprocess, tempfile
    folder = tempfile.mkdtemp()
    cert, key = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey"] + certificate + ["-nodes", "-keyout", key, "-out", cert,
                           "-subj", "/CN=shop.example", "-days", "2"], capture_output=True)
    out = os.path.join(folder, "x.json")
    if made.returncode != 0 or subprocess.run([sys.executable, "Tests/TLSTests/tls-exchange.py", cert, key, version, suite, out],
                                              capture_output=True).returncode != 0:
        return None
    seed = b"\x01"
    for direction, text in json.load(open(out))["flights"]:
        data = bytes.fromhex(text)
        for start in range(0, len(data), 256):
            piece = data[start:start + 256]
            seed += bytes([0 if direction == "c2s" else 1, len(piece) - 1]) + piece
    return seed
for name, version, suite, certificate in [("tls13.bin", "1.3", "x", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                                           ("tls12.bin", "1.2", "ECDHE-RSA-AES128-GCM-SHA256", ["rsa:2048"])]:
    seed = tls_seed(version, suite, certificate)
    if seed: write("tls", name, seed)
