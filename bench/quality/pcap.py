"""A classic pcap of HTTP requests, one TCP connection each (handshake, request in 1448-byte
segments, a 200 response, FINs), the client address and port naming the request."""
import struct

CLIENT_MAC, SERVER_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def client_of(n):
    """Request n (0-based): a unique client address and port."""
    return "10.%d.%d.%d" % (n // 64000 % 256 + 1, n // 250 % 256, n % 250 + 1), 1024 + n % 64000


def _ip(address):
    return bytes(int(p) for p in address.split("."))


def _frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, _ip(src), _ip(dst)) + tcp
    return SERVER_MAC + CLIENT_MAC + b"\x08\x00" + ip if src.startswith("127.") else CLIENT_MAC[::-1] + SERVER_MAC + b"\x08\x00" + ip


def write(path, requests, server=("127.0.0.1", 8080)):
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        clock = [1764547200 * 1000000]

        def packet(data):
            clock[0] += 20
            out.write(struct.pack("<IIII", clock[0] // 1000000, clock[0] % 1000000, len(data), len(data)) + data)

        for n, request in enumerate(requests):
            address, port = client_of(n)
            c, s = 1000, 5000
            packet(_frame(address, server[0], port, server[1], c, 0, SYN)); c += 1
            packet(_frame(server[0], address, server[1], port, s, c, SYN | ACK)); s += 1
            packet(_frame(address, server[0], port, server[1], c, s, ACK))
            for start in range(0, len(request), 1448):
                piece = request[start:start + 1448]
                packet(_frame(address, server[0], port, server[1], c, s, ACK | PSH, piece)); c += len(piece)
            packet(_frame(server[0], address, server[1], port, s, c, ACK | PSH, RESPONSE)); s += len(RESPONSE)
            packet(_frame(server[0], address, server[1], port, s, c, ACK | FIN)); s += 1
            packet(_frame(address, server[0], port, server[1], c, s, ACK | FIN)); c += 1
            packet(_frame(server[0], address, server[1], port, s, c, ACK))
