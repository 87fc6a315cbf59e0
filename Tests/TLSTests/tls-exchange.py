"""Real TLS sessions between Python's ssl module (the system OpenSSL) on both ends, over
memory BIOs: every flight each side wrote, the NSS key log the client wrote, and the
application data sent each way, as JSON for the TLS tests. No network and no clock: the
handshake is exactly what OpenSSL does on a socket.

usage: tls-exchange.py CERT KEY (1.3|1.2) SUITE-OR-CIPHERS OUT.json [h2]
"""
import json, os, ssl, sys, tempfile

cert, key, version, suite, out = sys.argv[1:6]
alpn = sys.argv[6:7]

def context(server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    if version == "1.2":
        ctx.set_ciphers(suite)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if server:
        ctx.load_cert_chain(cert, key)
        if os.environ.get("DH_PARAMS"):
            ctx.load_dh_params(os.environ["DH_PARAMS"])
        if os.environ.get("HRR"):
            # A group the client offers but sends no key share for: a HelloRetryRequest.
            ctx.set_ecdh_curve("secp384r1")
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx

keylog = tempfile.NamedTemporaryFile(delete=False, suffix=".keys").name
client_ctx = context(False)
client_ctx.keylog_filename = keylog
server_ctx = context(True)
flights = []

def connect(session=None):
    global c_in, c_out, s_in, s_out, client, server
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="shop.example", session=session)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)

connect()

def move():
    moved = False
    data = c_out.read()
    if data:
        flights.append(["c2s", data.hex()]); s_in.write(data); moved = True
    data = s_out.read()
    if data:
        flights.append(["s2c", data.hex()]); c_in.write(data); moved = True
    return moved

def step(side):
    try:
        side.do_handshake()
        return True
    except ssl.SSLWantReadError:
        return False

def handshake():
    done = [False, False]
    for _ in range(50):
        done[0] = done[0] or step(client)
        move()
        done[1] = done[1] or step(server)
        move()
        if all(done):
            break

handshake()
if os.environ.get("RESUME"):
    # A first session only for its ticket (TLS 1.3) or id (TLS 1.2); the flights recorded
    # are those of the resumed one.
    client.write(b"x"); move()
    try:
        server.read(10)
    except ssl.SSLWantReadError:
        pass
    server.write(b"y"); move()
    client.read(10)
    saved = client.session
    flights.clear()
    connect(saved)
    handshake()
    assert client.session_reused, "the session was not resumed"

requests = [b"GET /search?q=1%27%20UNION%20SELECT%20password HTTP/1.1\r\nHost: shop.example\r\n\r\n",
            b"POST /login HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 11\r\n\r\nuser=alice" + b"x" * 1]
responses = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfound", b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"]
big = b"HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n" + bytes(range(256)) * 156 + b"0123456789012345678901234567890123456789"[:40000 - 256 * 156]
def drain(side):
    """Everything the peer sent that `side` can read now."""
    try:
        while True:
            side.read(65536)
    except ssl.SSLWantReadError:
        pass

for request, response in zip(requests, responses):
    client.write(request); move()
    drain(server)
    server.write(response); move()
    drain(client)
# A response spread over several records (16 KiB each at most).
server.write(big); move()
drain(client)
try:
    client.unwrap()
except ssl.SSLWantReadError:
    pass
move()
json.dump({
    "flights": flights,
    "keylog": open(keylog).read(),
    "version": client.version(),
    "cipher": client.cipher()[0],
    "alpn": client.selected_alpn_protocol(),
    "c2s": b"".join(requests).hex(),
    "s2c": b"".join(responses + [big]).hex(),
}, open(out, "w"))
os.unlink(keylog)
