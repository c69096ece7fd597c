#!/usr/bin/python3 -EsB
"""Instructions per request, protected vs unprotected, counted by callgrind in a real httpd -X
with the module (issue 7). Counts, unlike seconds, do not depend on what else the machine does.

    bench/profile_request.py [--attributes 5,30,100] [--requests 400] [--top 25] [--alternate]
                             [--store cookie|cache]

For each attribute count: a session from one unsolicited Response (bench/make_responses, test
PKI); then, for unprotected and protected (AuthType SAML, Require valid-user) GETs of a static
1 KB file over one keep-alive TLS connection, httpd -X runs twice under callgrind: 20 warm-up
requests and <requests> more, then 20 and 2 x <requests>. The difference of the two totals is
the cost of <requests> requests, start-up and shut-down cancelled out. The unprotected file is
also fetched with the session's Cookie header (what its bytes cost TLS and httpd's header parser
without the module looking at them). Prints instructions per request, the ratios, and the
functions that cost most per protected request (inclusive, the same difference of two runs),
with what each costs per unprotected request with the Cookie header, largest difference first.

The module keeps the session a connection opened last (src/httpd/session_cache.cpp), so on one
connection only the first protected request opens its cookie. --alternate sends two sessions in
turn on the same connection, so every protected request misses that cache and opens its cookie:
the cost of the first request of a connection (without the TLS handshake).

--store cache runs the SP with SAMLSessionStore cache (shmcb): the cookie is a handle and the
session lives in shared memory, which empties when httpd stops, so every callgrind run logs in
anew (inside the warm-up, which the difference of the two runs cancels out).
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


def batch(sp, path, cookies, n):
    conn = http.client.HTTPSConnection(sp.host, sp.port, context=ssl._create_unverified_context(), timeout=120)
    for i in range(n):
        cookie = cookies[i % len(cookies)] if cookies else None
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("%s answered %d" % (path, r.status))
    conn.close()


def inclusive_of(path):
    """Inclusive instructions per function, as callgrind_annotate names them."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
    costs = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            # "file:function [object]": a function with debug info is listed once per file its
            # code came from, and once more as "???:function"; one name, the largest count.
            name = re.sub(r"\s+", " ", m.group(2).strip())
            name = re.sub(r" \[[^]]*\]$", "", name.split(":", 1)[1] if ":" in name else name)
            costs[name] = max(costs.get(name, 0), int(m.group(1).replace(",", "")))
    return costs


def per_request(short, long, requests):
    a, b = inclusive_of(short), inclusive_of(long)
    return {name: (b[name] - a.get(name, 0)) / requests for name in b}


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
    ap.add_argument("--alternate", action="store_true",
                    help="two sessions in turn on the one connection: every protected request opens its cookie")
    ap.add_argument("--store", choices=("cookie", "cache"), default="cookie",
                    help="SAMLSessionStore: cache keeps sessions in shmcb, logged in anew in every run")
    args = ap.parse_args()
    maker, pki = response_generator(args.build)
    work = tempfile.mkdtemp(prefix="saml-profile-")
    rows = []
    try:
        for n in [int(x) for x in args.attributes.split(",") if x]:
            sp = CallgrindSp(os.path.join(work, "sp%d" % n), ports.free_port(), pki_idp.metadata(pki),
                             server_conf="SAMLAllowUnsolicited On\nLimitRequestFieldSize 65536\n"
                             + ("SAMLSessionStore cache" if args.store == "cache" else ""), extra_conf=CONF)
            for d in ("bench-open", "bench-prot"):
                os.makedirs(os.path.join(sp.htdocs, d), exist_ok=True)
                with open(os.path.join(sp.htdocs, d, "1k.txt"), "w") as f:
                    f.write("x" * 1023 + "\n")
            sp.start()
            cookies = [session_cookie(sp, maker, pki, n) for _ in range(2 if args.alternate else 1)]
            cookie = cookies[0]
            sp.stop()
            sp.valgrind = True
            counts = {}
            for label, path, c in (("unprotected", "/bench-open/1k.txt", None),
                                   ("unprotected+cookie", "/bench-open/1k.txt", [cookie]),
                                   ("protected", "/bench-prot/1k.txt", cookies)):
                totals = []
                kept = []
                for repeat in (1, 2):
                    for old in glob.glob(sp.log_dir + "/callgrind.out.*"):
                        os.remove(old)
                    sp.start()
                    pid = int(open(os.path.join(sp.httpd_dir, "httpd.pid")).read())
                    # callgrind creates its output as root at start and writes it at exit, when
                    # httpd runs as its User
                    os.chmod(sp.log_dir + "/callgrind.out.%d" % pid, 0o666)
                    if args.store == "cache" and c is not None:  # shmcb emptied when httpd stopped
                        c = [session_cookie(sp, maker, pki, n) for _ in c]
                    batch(sp, path, c, 20)
                    batch(sp, path, c, repeat * args.requests)
                    sp.stop()
                    out = sp.log_dir + "/callgrind.out.%d" % pid
                    totals.append(total_of(out))
                    kept.append(os.path.join(work, "callgrind-%d-%s-%d.out" % (n, label, repeat)))
                    shutil.copy(out, kept[-1])
                counts[label] = ((totals[1] - totals[0]) / args.requests, kept)
            u, uc, p = counts["unprotected"][0], counts["unprotected+cookie"][0], counts["protected"][0]
            rows.append((n, u, uc, p, len(cookie)))
            print("\n## %d attributes (cookie %d bytes%s): %.0f instructions per unprotected request, %.0f with the "
                  "Cookie header, %.0f protected, ratio %.3f (%.3f to the one with the Cookie header)"
                  % (n, len(cookie), ", two sessions in turn" if args.alternate else "", u, uc, p, u / p, uc / p))
            if args.top:
                prot = per_request(*counts["protected"][1], args.requests)
                plain = per_request(*counts["unprotected+cookie"][1], args.requests)
                print("    instructions per request, inclusive: protected - unprotected with the Cookie header = extra")
                extra = {name: cost - plain.get(name, 0) for name, cost in prot.items()}
                for name in sorted(extra, key=lambda k: -extra[k])[:args.top]:
                    print("    %9.0f - %9.0f = %9.0f  %s" % (prot[name], plain.get(name, 0), extra[name], name[:130]))
            sys.stdout.flush()
        print("\n| attributes | unprotected | unprotected + Cookie header | protected | unprotected/protected | "
              "(unprotected + Cookie)/protected |")
        print("| --- | --- | --- | --- | --- | --- |")
        for n, u, uc, p, _ in rows:
            print("| %d | %.0f | %.0f | %.0f | %.3f | %.3f |" % (n, u, uc, p, u / p, uc / p))
    finally:
        if os.environ.get("SAML_BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
