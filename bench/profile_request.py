#!/usr/bin/python3 -EsB
"""Instructions per request, protected vs unprotected, counted by callgrind in a real httpd -X
with the module (issue 7). Counts, unlike seconds, do not depend on what else the machine does.

    bench/profile_request.py [--attributes 5,30,100] [--requests 400] [--top 25]

For each attribute count: a session from one unsolicited Response (bench/make_responses, test
PKI); then, for unprotected and protected (AuthType SAML, Require valid-user) GETs of a static
1 KB file over one keep-alive TLS connection, httpd -X runs twice under callgrind: 20 warm-up
requests and <requests> more, then 20 and 2 x <requests>. The difference of the two totals is
the cost of <requests> requests, start-up and shut-down cancelled out. Prints instructions per
request, the ratio, and the top functions (inclusive) of the longer protected run.
"""
import argparse
import glob
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "test", "integration"))
sys.path.insert(0, HERE)

from harness import pki_idp, ports  # noqa: E402
from harness.sp import APACHE, ModuleSp  # noqa: E402
from acs_bench import response_generator  # noqa: E402

CONF = """
<Location /bench-prot>
    AuthType SAML
    Require valid-user
</Location>
"""


class CallgrindSp(ModuleSp):
    def valgrind_argv(self):
        self.callgrind_out = os.path.join(self.log_dir, "callgrind.out")
        return ["valgrind", "--tool=callgrind", "--trace-children=no", "--vgdb=no",
                "--child-silent-after-fork=yes", "--callgrind-out-file=" + self.callgrind_out + ".%p",
                APACHE, "-X", "-f", self.conf_path]


def session_cookie(sp, maker, pki, attributes):
    body = subprocess.run([maker, "--count", "1", "--acs", sp.base_url + "/saml/acs", "--sp-entity", sp.entity_id,
                           "--idp-entity", pki_idp.IDP_ENTITY, "--attributes", str(attributes)],
                          stdout=subprocess.PIPE, check=True, env=dict(os.environ, SAML_TEST_PKI=pki)).stdout
    conn = http.client.HTTPSConnection(sp.host, sp.port, context=ssl._create_unverified_context())
    conn.request("POST", "/saml/acs", body=body.strip(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    r.read()
    if r.status != 303:
        raise SystemExit("the ACS refused the benchmark Response: %d" % r.status)
    return "; ".join(h.split(";", 1)[0] for h in r.headers.get_all("Set-Cookie") if h.startswith("saml_session"))


def batch(sp, path, cookie, n):
    conn = http.client.HTTPSConnection(sp.host, sp.port, context=ssl._create_unverified_context(), timeout=120)
    for _ in range(n):
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("%s answered %d" % (path, r.status))
    conn.close()


def total_of(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise SystemExit("no totals in " + path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attributes", default="5,30,100")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--build", default=os.path.join(TOP, "build", "plain"))
    args = ap.parse_args()
    maker, pki = response_generator(args.build)
    work = tempfile.mkdtemp(prefix="saml-profile-")
    rows = []
    try:
        for n in [int(x) for x in args.attributes.split(",") if x]:
            sp = CallgrindSp(os.path.join(work, "sp%d" % n), ports.free_port(), pki_idp.metadata(pki),
                             server_conf="SAMLAllowUnsolicited On\nLimitRequestFieldSize 65536", extra_conf=CONF)
            for d in ("bench-open", "bench-prot"):
                os.makedirs(os.path.join(sp.htdocs, d), exist_ok=True)
                with open(os.path.join(sp.htdocs, d, "1k.txt"), "w") as f:
                    f.write("x" * 1023 + "\n")
            sp.start()
            cookie = session_cookie(sp, maker, pki, n)
            sp.stop()
            sp.valgrind = True
            counts = {}
            for label, path, c in (("unprotected", "/bench-open/1k.txt", None), ("protected", "/bench-prot/1k.txt", cookie)):
                totals = []
                for repeat in (1, 2):
                    for old in glob.glob(sp.log_dir + "/callgrind.out.*"):
                        os.remove(old)
                    sp.start()
                    pid = int(open(os.path.join(sp.httpd_dir, "httpd.pid")).read())
                    # callgrind creates its output as root at start and writes it at exit, when
                    # httpd runs as its User
                    os.chmod(sp.log_dir + "/callgrind.out.%d" % pid, 0o666)
                    batch(sp, path, c, 20)
                    batch(sp, path, c, repeat * args.requests)
                    sp.stop()
                    out = sp.log_dir + "/callgrind.out.%d" % pid
                    totals.append(total_of(out))
                    kept = os.path.join(work, "callgrind-%d-%s.out" % (n, label))
                    shutil.copy(out, kept)
                counts[label] = ((totals[1] - totals[0]) / args.requests, kept)
            u, p = counts["unprotected"][0], counts["protected"][0]
            rows.append((n, u, p, len(cookie)))
            print("\n## %d attributes (cookie %d bytes): %.0f instructions per unprotected request, %.0f protected, "
                  "ratio %.3f; the protected batch, inclusive, top %d:" % (n, len(cookie), u, p, u / p, args.top))
            out = subprocess.run(["callgrind_annotate", "--inclusive=yes", counts["protected"][1]],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
            lines = [l for l in out.splitlines() if re.match(r"^\s*[\d,]+ \(", l)]
            for l in lines[:args.top]:
                print("    " + re.sub(r"\s+", " ", l.strip())[:160])
            sys.stdout.flush()
        print("\n| attributes | instructions/request unprotected | protected | unprotected/protected |")
        print("| --- | --- | --- | --- |")
        for n, u, p, _ in rows:
            print("| %d | %.0f | %.0f | %.3f |" % (n, u, p, u / p))
    finally:
        if os.environ.get("SAML_BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
