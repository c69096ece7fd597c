#!/usr/bin/python3 -EsB
"""Where sessions live, side by side (issue 14): protected / unprotected for the same 1 KB file
with sessions in the cookie (SAMLSessionStore cookie), in shmcb and in memcached
(SAMLSessionStore cache [memcache:...]), for 5, 30, 100 and 300 attributes, on the event and
prefork MPMs, with keep-alive connections and with a new connection per request. Prints figures,
fails nothing on timing.

    bench/session_store_bench.py [--duration 5] [--runs 3] [--attrs 5,30,100,300]
                                 [--stores cookie,shmcb,memcache] [--mpm event,prefork]
                                 [--keepalive on,off] [--pin]

Each store gets its own SP (same module, same IdP: a real SimpleSAMLphp); every user logs in
once per SP; wrk replays the session cookie, in pairs of runs (unprotected, protected) whose
order alternates, so that neither side always pays for being first or last. Every run is
checked the way http_bench.py checks it (all 200, the right user in the access log). Cookie
mode with 300 attributes needs LimitRequestFieldSize 32768 (set for every SP, so the runs
differ in the store only).
Besides requests per second, each run's server CPU time per request is read from /proc (the
children's user + system time over the requests wrk counted): its ratio is the steadier figure on
a machine that runs other work. --pin keeps httpd on CPU 0 and wrk on CPU 1, so that the figures
measure the server rather than how the scheduler shares two cores between client and server (with
a new connection per request, the TLS handshake's loopback work otherwise lands on either side).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "test", "integration"))
sys.path.insert(0, HERE)

from harness import idp as idpmod  # noqa: E402
from harness import ports  # noqa: E402
from harness.browser import Browser  # noqa: E402
from harness.cacheserver import CacheServer  # noqa: E402
from http_bench import (BENCH_CONF, FILE_1K, BenchSp, checked_pair, cookie_header, login, pin_server,  # noqa: E402
                        user_with, wrk)


def store_conf(store, cache):
    if store == "cookie":
        return ""
    if store == "shmcb":
        return "SAMLSessionStore cache"
    return "%s\nSAMLSessionStore cache %s" % (cache.load_module(), cache.spec())


def make_sp(work, idp, store, cache):
    sp = BenchSp(os.path.join(work, "sp-" + store), ports.free_port(), idp.metadata_xml(),
                 server_conf="LimitRequestFieldSize 32768\n" + store_conf(store, cache))
    sp.extra_conf = BENCH_CONF.format(logs=sp.log_dir)
    for d in ("bench-open", "bench-prot"):
        os.makedirs(os.path.join(sp.htdocs, d), exist_ok=True)
        with open(os.path.join(sp.htdocs, d, "1k.txt"), "wb") as f:
            f.write(FILE_1K)
    sp.start()
    idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text)
    return sp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--attrs", default="5,30,100,300")
    ap.add_argument("--stores", default="cookie,shmcb,memcache")
    ap.add_argument("--mpm", default="event,prefork")
    ap.add_argument("--keepalive", default="on,off")
    ap.add_argument("--pin", action="store_true",
                    help="httpd on CPU 0, wrk on CPU 1 (needs 2 CPUs; the IdP and memcached are not pinned)")
    args = ap.parse_args()
    counts = [int(x) for x in args.attrs.split(",") if x]
    stores = [s for s in args.stores.split(",") if s]
    users = dict(user_with(n) for n in counts)

    work = tempfile.mkdtemp(prefix="saml-store-bench-")
    idp = idpmod.SimpleSamlIdp(os.path.join(work, "idp"), ports.free_port(), users=users, log_level="WARNING")
    cache = CacheServer("memcache", os.path.join(work, "memcached")) if "memcache" in stores else None
    sps = {}
    try:
        idp.start()
        if cache:
            cache.start()
        for store in stores:
            sps[store] = make_sp(work, idp, store, cache)
        print("module: %s" % sps[stores[0]].module)
        # The logins, once per store: cookie bytes and the Cookie header each store's requests carry.
        cookies = {}
        print("\n## The Cookie header a request carries")
        print("| attributes | " + " | ".join(stores) + " |")
        print("| --- |" + " --- |" * len(stores))
        for n in counts:
            row = []
            for store in stores:
                name = "u%d" % n
                b, _, status = login(sps[store], name, users[name]["password"])
                cookies[store, n] = (name, cookie_header(b))
                row.append("%d bytes%s" % (len(cookies[store, n][1]), "" if status == 200 else " (%s)" % status))
            print("| %d | %s |" % (n, " | ".join(row)))
        sys.stdout.flush()

        summary = []
        for mpm in [m for m in args.mpm.split(",") if m]:
            for store in stores:
                sp = sps[store]
                sp.stop()
                BenchSp.mpm = mpm
                sp.start()
                if args.pin:
                    pin_server(sp)
                # shmcb's sessions end with httpd (a restart, even a graceful one): log in again.
                for n in counts:
                    name = "u%d" % n
                    b, _, _ = login(sp, name, users[name]["password"])
                    cookies[store, n] = (name, cookie_header(b))
            for keepalive in [k for k in args.keepalive.split(",") if k]:
                args.close = keepalive == "off"
                for store in stores:
                    sp = sps[store]
                    wrk(sp.base_url + "/bench-open/1k.txt", args, duration=2)  # warm-up
                    for n in counts:
                        name, header = cookies[store, n]
                        wrk(sp.base_url + "/bench-prot/1k.txt", args, header, duration=1)
                        ratios, us, ps, checks, cpus = [], [], [], [], []
                        for run in range(args.runs):
                            cpu = {}
                            u, _, p, _, _, ok, note = checked_pair(sp, args, header, name, cpu,
                                                                   protected_first=run % 2 == 1, cookie_run=False)
                            if cpu.get("open") and cpu.get("prot"):
                                cpus.append((cpu["open"] / cpu["prot"], cpu["open"], cpu["prot"]))
                            ratios.append(p / u if u else 0)
                            us.append(u)
                            ps.append(p)
                            checks.append("ok" if ok else "NO" + note)
                        summary.append((mpm, keepalive, store, n, statistics.median(us), statistics.median(ps),
                                        statistics.median(ratios), min(ratios), max(ratios),
                                        "ok" if all(c == "ok" for c in checks) else "; ".join(checks),
                                        statistics.median(c[0] for c in cpus) if cpus else 0,
                                        statistics.median(c[1] for c in cpus) if cpus else 0,
                                        statistics.median(c[2] for c in cpus) if cpus else 0))
                        mpm_, ka_, store_, n_, u_, p_, r_ = summary[-1][:7]
                        print("%s keep-alive=%s %s %d attributes: ratio %.3f (unprotected %.0f, protected %.0f req/s); "
                              "CPU per request %.0f / %.0f us, ratio %.3f %s"
                              % (mpm_, ka_, store_, n_, r_, u_, p_, summary[-1][11], summary[-1][12], summary[-1][10],
                                 summary[-1][9]))
                        sys.stdout.flush()
        print("\n## protected / unprotected, 1 KB static file (medians of %d pairs of %d-s wrk runs, -t%d -c%d)"
              % (args.runs, args.duration, args.threads, args.connections))
        def table(cell):
            print("| MPM | keep-alive | attributes | " + " | ".join(stores) + " |")
            print("| --- | --- | --- |" + " --- |" * len(stores))
            for mpm in [m for m in args.mpm.split(",") if m]:
                for keepalive in [k for k in args.keepalive.split(",") if k]:
                    for n in counts:
                        rows = [next(r for r in summary if r[:4] == (mpm, keepalive, store, n)) for store in stores]
                        print("| %s | %s | %d | %s |" % (mpm, keepalive, n, " | ".join(cell(row) for row in rows)))

        table(lambda row: "%.3f (%.0f / %.0f)%s" % (row[6], row[5], row[4], "" if row[9] == "ok" else " CHECK FAILED"))
        print("\n## The same runs by the server's CPU time per request: unprotected / protected (user + system of"
              " the children, all threads; barely moved by what else runs on the machine)")
        table(lambda row: "%.3f (%.0f / %.0f us)" % (row[10], row[12], row[11]) if row[10] else "n/a")
        for store, sp in sps.items():
            ours = [l for l in sp.problems() if "auth_saml" in l]
            print("auth_saml warnings/errors, %s: %s" % (store, ours or "none"))
    finally:
        for sp in sps.values():
            sp.stop()
        idp.stop()
        if cache:
            cache.stop()
        if os.environ.get("SAML_BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
