#!/usr/bin/env python3
"""The anchor of docs/QUALITY.md: OWASP CRS (Debian's modsecurity-crs) on ModSecurity 2 in a real
Apache, at paranoia levels 1 and 2, judging the same requests as evaluate.py (sets.py). Each
request is sent on its own connection; a 403 is a request CRS flags (anomaly scoring, blocking
at the default inbound threshold 5). A seeded sample of at most --sample requests per set keeps
it to minutes. Writes bench/out/quality/crs.json for `evaluate.py --crs`.

    apt-get install apache2 libapache2-mod-security2 modsecurity-crs
    bench/quality/crs.py [--sample 1500] [--only SET]
"""
import argparse, json, os, random, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sets

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
OUT = os.path.join(ROOT, "bench/out/quality")
MODULES = "/usr/lib/apache2/modules"
CRS_RULES = "/usr/share/modsecurity-crs/rules"
CRS_SETUP = "/etc/modsecurity/crs/crs-setup.conf"
MODSEC_CONF = "/etc/modsecurity/modsecurity.conf-recommended"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_apache(folder, port, paranoia):
    docroot = os.path.join(folder, "www")
    os.makedirs(docroot, exist_ok=True)
    open(os.path.join(docroot, "index.html"), "w").write("ok\n")
    recommended = open(MODSEC_CONF).read().replace("SecRuleEngine DetectionOnly", "SecRuleEngine On")
    recommended = recommended.replace("SecAuditEngine RelevantOnly", "SecAuditEngine Off")
    recommended = recommended.replace("/var/log/apache2/modsec_audit.log", os.path.join(folder, "audit.log"))
    recommended = recommended.replace("SecUnicodeMapFile unicode.mapping", "SecUnicodeMapFile /etc/modsecurity/unicode.mapping")
    open(os.path.join(folder, "modsecurity.conf"), "w").write(recommended)
    user = "www-data" if os.geteuid() == 0 else None
    conf = f"""
ServerRoot "{folder}"
Listen 127.0.0.1:{port}
PidFile {folder}/apache.pid
DefaultRuntimeDir {folder}
ErrorLog {folder}/error.log
LogLevel warn
{"User " + user + chr(10) + "Group " + user if user else ""}
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule unique_id_module {MODULES}/mod_unique_id.so
LoadModule security2_module {MODULES}/mod_security2.so
StartServers 2
ServerLimit 4
ThreadsPerChild 25
MaxRequestWorkers 100
DocumentRoot "{docroot}"
<Directory "{docroot}">
    Require all granted
</Directory>
ErrorDocument 404 "ok"
ErrorDocument 405 "ok"
Include {folder}/modsecurity.conf
Include {CRS_SETUP}
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={paranoia}"
Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include {CRS_RULES}/*.conf
Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
"""
    path = os.path.join(folder, "httpd.conf")
    open(path, "w").write(conf)
    if user:
        subprocess.run(["chown", "-R", user, folder], check=False)
    process = subprocess.Popen(["/usr/sbin/apache2", "-f", path, "-DFOREGROUND"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                sys.exit("apache did not start: " + process.stderr.read().decode(errors="replace")[-2000:] +
                         open(os.path.join(folder, "error.log")).read()[-2000:] if os.path.exists(os.path.join(folder, "error.log")) else "")
            time.sleep(0.1)
    sys.exit("apache did not listen on %d" % port)


def status_of(port, request):
    """The status code of Apache's answer to one raw request (None when it does not answer)."""
    # One request per connection: Connection: close in place of keep-alive.
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    wire = b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n" + body
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(wire)
            answer = b""
            while b"\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=1500)
    parser.add_argument("--only")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    all_sets = [s for s in sets.all_sets() if not args.only or args.only in s[0]]
    rng = random.Random(20261202)
    samples = [(name, family, rng.sample(requests, min(args.sample, len(requests)))) for name, _, family, requests in all_sets]
    results = {}
    for level in (1, 2):
        folder = tempfile.mkdtemp(prefix="diffai-crs-")
        port = free_port()
        apache = start_apache(folder, port, level)
        try:
            for name, family, requests in samples:
                codes = [status_of(port, r) for r in requests]
                flagged = sum(1 for c in codes if c == 403)
                entry = results.setdefault("%s/%s" % (name, family), {"n": len(requests)})
                entry["PL%d" % level] = flagged
                entry["PL%d_unanswered_or_400" % level] = sum(1 for c in codes if c is None or c == 400)
                print(json.dumps({"set": name, "family": family, "level": level, "n": len(requests), "flagged": flagged}), file=sys.stderr)
        finally:
            apache.terminate()
            apache.wait(timeout=10)
            if os.environ.get("CRS_KEEP"):
                print("kept " + folder, file=sys.stderr)
            else:
                shutil.rmtree(folder, ignore_errors=True)
    json.dump(results, open(os.path.join(OUT, "crs.json"), "w"), indent=1)
    print(os.path.join(OUT, "crs.json"))


if __name__ == "__main__":
    main()
