"""The evaluation sets: every request of every set as raw bytes, with its set, family and label.
Attack families come from bench/quality/attacks/*.tsv (written for this project) and from the
development set's payload lists; benign traffic from the development set's CSIC normal traffic
and hard negatives, and from the generator in benign.py (realistic sites that share nothing
with the training data)."""
import glob, gzip, os, random, re, urllib.parse

import benign

SHARED = os.environ.get("DIFFAI_DEVSETS", os.path.join(os.path.dirname(__file__), "../../../shared/devsets"))
HERE = os.path.dirname(os.path.abspath(__file__))

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def encode(value):
    """Percent-encode as a form would, keeping existing %XX escapes (the payload lists' rule)."""
    return urllib.parse.quote_plus(value, safe="").replace("%25", "%")


def request(method, target, headers=(), body=b""):
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: shop.example", "User-Agent: " + UA, "Accept: */*"]
    names = {h[0].lower() for h in headers}
    lines = [l for l in lines if l.split(":")[0].lower() not in names or l.startswith(method)]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if body:
        if "content-type" not in names:
            lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return head + body


def place(placement, payload):
    """One request carrying `payload` where `placement` says (see attacks/*.tsv)."""
    kind, _, name = placement.partition(":")
    raw = payload.encode("utf-8", "surrogateescape")
    if kind == "query":
        return request("GET", "/app?%s=%s" % (name, encode(payload)))
    if kind == "raw-query":
        return request("GET", "/app?%s=%s" % (name, payload.replace(" ", "%20")))
    if kind == "body":
        return request("POST", "/app", body=("%s=%s" % (name, encode(payload))).encode())
    if kind == "json":
        import json
        try:
            value = json.loads(payload)
        except ValueError:
            value = payload
        return request("POST", "/api", [("Content-Type", "application/json")], json.dumps({name: value}).encode())
    if kind == "header":
        return request("GET", "/app", [(name, payload)])
    if kind == "cookie":
        return request("GET", "/app", [("Cookie", "%s=%s" % (name, payload.replace(";", "%3B")))])
    if kind == "path":
        return request("GET", "/" + payload.replace(" ", "%20"))
    if kind == "xml":
        return request("POST", "/api", [("Content-Type", "application/xml")], raw)
    raise ValueError("unknown placement " + placement)


def families():
    """(family, [request bytes]) for the project's own attack corpus."""
    out = []
    for path in sorted(glob.glob(os.path.join(HERE, "attacks", "*.tsv"))):
        family = os.path.basename(path)[:-4]
        requests = []
        for line in open(path, encoding="utf-8"):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            placement, _, payload = line.partition("\t")
            requests.append(place(placement, payload))
        out.append((family, requests))
    return out


def payload_lists(kind):
    """(category, [request bytes]) from the development set's payload lists: each payload as a
    query parameter and as a form body, as the collection's own templates send it; header
    payloads (Shellshock, Log4Shell) in User-Agent too, XXE as an XML body."""
    out = []
    for path in sorted(glob.glob(os.path.join(SHARED, "payloads", "*-%s.txt" % kind))):
        category = os.path.basename(path)[: -len("-%s.txt" % kind)]
        requests = []
        for line in open(path, encoding="utf-8", errors="surrogateescape"):
            payload = line.rstrip("\r\n")
            if not payload:
                continue
            if category == "xxe":
                requests.append(place("xml", payload))
                continue
            requests.append(place("query:tp_param", payload))
            requests.append(place("body:tp_param", payload))
            if category in ("shellshock", "log4shell"):
                requests.append(place("header:User-Agent", payload))
        out.append((category, requests))
    return out


def csic(name):
    """The CSIC 2010 requests, as the development set's captures send them."""
    data = gzip.decompress(open(os.path.join(SHARED, name), "rb").read())
    starts = [m.start() for m in re.finditer(rb"(?m)^(GET|POST|PUT|DELETE|HEAD|OPTIONS|TRACE|PATCH) \S+ HTTP/1\.[01]\r?\n", data)]
    out = []
    for i, start in enumerate(starts):
        chunk = data[start:starts[i + 1] if i + 1 < len(starts) else len(data)]
        end = chunk.find(b"\r\n\r\n") + 4
        head = chunk[:end]
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        out.append(head + chunk[end:end + length])
    return out


def hard_negatives():
    out = []
    for line in open(os.path.join(SHARED, "hard-negatives.txt"), encoding="utf-8", errors="surrogateescape"):
        value = line.rstrip("\r\n")
        if value:
            out.append(request("GET", "/search?q=" + urllib.parse.quote_plus(value)))
    return out


def all_sets(seed=20261202):
    """[(set name, label, family, [requests])]; label is 'attack' or 'benign'."""
    sets = []
    for family, requests in families():
        sets.append(("corpus", "attack", family, requests))
    for category, requests in payload_lists("attacks"):
        sets.append(("payloads", "attack", category, requests))
    looks = [r for _, rs in payload_lists("benign") for r in rs]
    sets.append(("payload look-alikes", "benign", "-", looks))
    sets.append(("hard negatives", "benign", "-", hard_negatives()))
    sets.append(("CSIC normal", "benign", "-", csic("normalTrafficTraining.txt.gz")))
    sets.append(("CSIC anomalous", "attack", "csic", csic("anomalousTrafficTest.txt.gz")))
    rng = random.Random(seed)
    for site in benign.SITES:
        sets.append(("site: " + site.name, "benign", "-", [site.request(rng) for _ in range(20000)]))
    sets.append(("crawler log", "benign", "-", benign.crawler_log(rng, 20000)))
    return sets
