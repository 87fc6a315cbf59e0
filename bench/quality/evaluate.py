#!/usr/bin/env python3
"""Detection quality through the whole pipeline: every evaluation set (sets.py) is written as a
capture, replayed by diffai with the rules only, the model only, and both (the default), and
each request counted as flagged when an incident names it. Prints, and with --write puts into
docs/QUALITY.md, one table per set and per attack family. With --crs FILE it adds the OWASP CRS
figures that bench/quality/crs.py measured on the same requests.

    bench/quality/evaluate.py DIFFAI [--write] [--crs bench/out/quality/crs.json] [--only SET]
"""
import argparse, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcap, sets

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
OUT = os.path.join(ROOT, "bench/out/quality")


def flagged(diffai, capture, count, extra):
    """Indexes of the requests an incident names."""
    result = subprocess.run([diffai, "replay", "--no-console", "--json", "--no-summary"] + extra + [capture],
                            capture_output=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        sys.exit("diffai replay failed: " + result.stderr.decode(errors="replace")[-2000:])
    index = {pcap.client_of(n): n for n in range(count)}
    hits = {}
    for line in result.stdout.splitlines():
        alert = json.loads(line)
        n = index.get((alert["src_ip"], alert["src_port"]))
        if n is not None:
            diffai = alert.get("diffai", {})
            hits[n] = "score %s: %s" % (diffai.get("score"), ", ".join(
                ("ml %s" % diffai.get("ml_score")) if m.get("source") == "ml" else "%s(%s)" % (m["signature_id"], m.get("target", ""))
                for m in diffai.get("matches", [])))
    return hits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("diffai")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--crs")
    parser.add_argument("--only")
    parser.add_argument("--keep", action="store_true", help="keep the flagged benign requests in bench/out/quality/")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    empty = os.path.join(OUT, "no-rules.json")
    open(empty, "w").write("[]\n")
    configurations = [("rules", ["--no-ml"]), ("ML", ["--rules", empty]), ("combined", [])]
    crs = json.load(open(args.crs)) if args.crs else {}
    rows = []
    for name, label, family, requests in sets.all_sets():
        if args.only and args.only not in name:
            continue
        capture = os.path.join(OUT, "%s-%s.pcap" % (name.replace(" ", "-").replace(":", ""), family))
        pcap.write(capture, requests)
        result = {"set": name, "label": label, "family": family, "count": len(requests)}
        for config, extra in configurations:
            hits = flagged(args.diffai, capture, len(requests), extra)
            result[config] = len(hits)
            if config == "combined" and label == "benign" and args.keep:
                with open(capture[:-5] + ".flagged.txt", "wb") as out:
                    for n in sorted(hits):
                        head, _, body = requests[n].partition(b"\r\n\r\n")
                        out.write(head.split(b"\r\n")[0] + b"  [" + hits[n].encode() + b"]  " + body[:200] + b"\n")
        key = "%s/%s" % (name, family)
        for level in ("PL1", "PL2"):
            if key in crs and level in crs[key]:
                # crs.py judges a seeded sample of each set: its rate, applied to the set.
                result["CRS " + level] = crs[key][level] * len(requests) / max(1, crs[key].get("n", len(requests)))
        rows.append(result)
        print(json.dumps(result), file=sys.stderr)
    report = table(rows)
    print(report)
    json.dump(rows, open(os.path.join(OUT, "results.json"), "w"), indent=1)
    if args.write:
        write_doc(report)


def pct(part, whole):
    return "%.2f %%" % (100.0 * part / whole) if whole else "-"


def table(rows):
    columns = ["rules", "ML", "combined"] + [c for c in ("CRS PL1", "CRS PL2") if any(c in r for r in rows)]
    lines = ["### Benign traffic: requests flagged (lower is better)", "",
             "| set | requests | " + " | ".join(columns) + " |", "| --- | ---: | " + " | ".join("---:" for _ in columns) + " |"]
    for r in rows:
        if r["label"] == "benign":
            lines.append("| %s | %d | %s |" % (r["set"], r["count"], " | ".join(pct(r.get(c, 0), r["count"]) if c in r else "-" for c in columns)))
    lines += ["", "### Attacks: requests caught (higher is better)", "",
              "| set | family | requests | " + " | ".join(columns) + " |", "| --- | --- | ---: | " + " | ".join("---:" for _ in columns) + " |"]
    for r in rows:
        if r["label"] == "attack":
            lines.append("| %s | %s | %d | %s |" % (r["set"], r["family"], r["count"], " | ".join(pct(r.get(c, 0), r["count"]) if c in r else "-" for c in columns)))
    corpus = [r for r in rows if r["set"] == "corpus"]
    if corpus:
        lines.append("| corpus | **all families** | %d | %s |" % (sum(r["count"] for r in corpus), " | ".join(
            pct(sum(r.get(c, 0) for r in corpus), sum(r["count"] for r in corpus)) if all(c in r for r in corpus) else "-" for c in columns)))
    return "\n".join(lines)


def write_doc(report):
    path = os.path.join(ROOT, "docs/QUALITY.md")
    text = open(path).read() if os.path.exists(path) else ""
    begin, end = "<!-- results: bench/quality/evaluate.py -->", "<!-- end of results -->"
    block = begin + "\n\n" + report + "\n\n" + end
    if begin in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n" + block + "\n"
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
