#!/usr/bin/python3 -EsB
"""Where sessions live, side by side (issue 14): protected / unprotected for the same 1 KB file
with sessions in the cookie (SAMLSessionStore cookie), in shmcb and in memcached
(SAMLSessionStore cache [memcache:...]), for 5, 30, 100 and 300 attributes, on the event and
prefork MPMs, with keep-alive connections and with a new connection per request. Prints figures,
fails nothing on timing.

    bench/session_store_bench.py [--duration 5] [--runs 3] [--attrs 5,30,100,300]
                                 [--stores cookie,shmcb,memcache] [--mpm event,prefork]
                                 [--keepalive on,off] [--pin] [--quiet-margin 0.15]

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
On a shared host the cost of the same request can double for a while when a neighbour is busy,
and our side grows more than the other (it moves more memory). The main tables count the quiet
pairs: each of its two runs within --quiet-margin of the cheapest run of its kind (quiet_pairs);
a cell runs more pairs, up to three times --runs, until it has --runs of them. The last table
gives every pair, quiet or not.
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
from http_bench import (BENCH_CONF, FILE_1K, BenchSp, checked_pair, cookie_header, cpu_per_request,  # noqa: E402
                        login, pin_server, user_with, wrk)


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


def note_cheapest(baseline, config, cost):
    """Keeps in baseline the cheapest unprotected CPU us per request seen for config."""
    if cost:
        baseline[config] = min(baseline.get(config, float("inf")), cost)


def run_cell(sp, args, header, user, baseline, config):
    """Pairs of runs (unprotected, protected; the order alternates) for one cell until it has
    args.runs quiet pairs (see quiet_pairs) or 3 x args.runs pairs in all. baseline: the cheapest
    unprotected request seen so far per config (MPM, keep-alive, store), in CPU us."""
    pairs = []
    while True:
        cpu = {}
        u, _, p, _, _, ok, note = checked_pair(sp, args, header, user, cpu, protected_first=len(pairs) % 2 == 1,
                                               cookie_run=False)
        pairs.append({"rps_u": u, "rps_p": p, "cpu_u": cpu.get("open"), "cpu_p": cpu.get("prot"), "ok": ok,
                      "note": note})
        note_cheapest(baseline, config, pairs[-1]["cpu_u"])
        if len(pairs) < args.runs:
            continue
        if args.quiet_margin <= 0 or len(pairs) >= 3 * args.runs:
            break
        if len(quiet_pairs(pairs, baseline.get(config), args.quiet_margin)) >= args.runs:
            break
    return {"pairs": pairs, "config": config}


def quiet_pairs(pairs, cheapest_unprotected, margin):
    """The pairs whose two runs both cost the server no more than (1 + margin) x the cheapest run
    of their kind: the unprotected file's cheapest in this MPM / keep-alive / store, the protected
    one's in this cell. On a shared host the server's cost per request can double for a while
    when a neighbour is busy (the same request: 93 us, then 186 us), and it does not grow evenly:
    a request that moves more memory (ours, with hundreds of variables) grows more. A pair with
    a run in such a stretch measures the neighbour. The test is the same for both sides of the
    pair, and the figures of all pairs are printed next to these."""
    timed = [p for p in pairs if p["cpu_u"] and p["cpu_p"]]
    if margin <= 0 or not timed or not cheapest_unprotected:
        return timed
    cheapest_protected = min(p["cpu_p"] for p in timed)
    return [p for p in timed if p["cpu_u"] <= (1 + margin) * cheapest_unprotected
            and p["cpu_p"] <= (1 + margin) * cheapest_protected]


def figures(pairs):
    """Medians over pairs: requests per second (ratio protected / unprotected, and each side) and
    CPU per request (ratio unprotected / protected, and each side; 0 when no run was timed)."""
    if not pairs:
        return None

    def median(values):
        values = list(values)
        return statistics.median(values) if values else 0

    timed = [p for p in pairs if p["cpu_u"] and p["cpu_p"]]
    return {"ratio": median(p["rps_p"] / p["rps_u"] if p["rps_u"] else 0 for p in pairs),
            "rps_u": median(p["rps_u"] for p in pairs), "rps_p": median(p["rps_p"] for p in pairs),
            "cpu_ratio": median(p["cpu_u"] / p["cpu_p"] for p in timed),
            "cpu_u": median(p["cpu_u"] for p in pairs if p["cpu_u"]),
            "cpu_p": median(p["cpu_p"] for p in pairs if p["cpu_p"]),
            "pairs": len(pairs)}


def cell_figures(cell, baseline, margin):
    """(figures of the quiet pairs, figures of all pairs, check) for one cell."""
    quiet = quiet_pairs(cell["pairs"], baseline.get(cell["config"]), margin)
    bad = [p["note"] for p in cell["pairs"] if not p["ok"]]
    return figures(quiet), figures(cell["pairs"]), "ok" if not bad else "; ".join(bad)


def describe(cell, baseline, margin):
    quiet, everything, check = cell_figures(cell, baseline, margin)
    text = "all %d pairs: ratio %.3f, CPU %.0f / %.0f us, ratio %.3f" % (
        everything["pairs"], everything["ratio"], everything["cpu_u"], everything["cpu_p"], everything["cpu_ratio"])
    if quiet and margin > 0:
        text = "%d quiet pairs: ratio %.3f (%.0f / %.0f req/s), CPU %.0f / %.0f us, ratio %.3f; %s" % (
            quiet["pairs"], quiet["ratio"], quiet["rps_u"], quiet["rps_p"], quiet["cpu_u"], quiet["cpu_p"],
            quiet["cpu_ratio"], text)
    return text + ("" if check == "ok" else check)  # each note starts with " CHECK FAILED"


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
    ap.add_argument("--quiet-margin", type=float, default=0.15,
                    help="a pair counts as quiet when each run costs at most this much more CPU per request than "
                         "the cheapest of its kind; a cell runs pairs until it has --runs quiet ones (at most "
                         "3 x --runs in all); 0: every pair counts")
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
        baseline = {}
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
                    # The unprotected side's cheapest before the first cell, so that a first cell
                    # run in a busy stretch is not its own yardstick (see quiet_pairs).
                    for _ in range(3):
                        _, cost = cpu_per_request(sp, lambda: wrk(sp.base_url + "/bench-open/1k.txt", args))
                        note_cheapest(baseline, (mpm, keepalive, store), cost)
                    for n in counts:
                        name, header = cookies[store, n]
                        wrk(sp.base_url + "/bench-prot/1k.txt", args, header, duration=1)
                        cell = run_cell(sp, args, header, name, baseline, (mpm, keepalive, store))
                        cell.update(mpm=mpm, keepalive=keepalive, store=store, n=n)
                        summary.append(cell)
                        print("%s keep-alive=%s %s %d attributes: %s"
                              % (mpm, keepalive, store, n, describe(cell, baseline, args.quiet_margin)))
                        sys.stdout.flush()
        def table(cell_text):
            print("| MPM | keep-alive | attributes | " + " | ".join(stores) + " |")
            print("| --- | --- | --- |" + " --- |" * len(stores))
            for mpm in [m for m in args.mpm.split(",") if m]:
                for keepalive in [k for k in args.keepalive.split(",") if k]:
                    for n in counts:
                        cells = [next(c for c in summary if (c["mpm"], c["keepalive"], c["store"], c["n"]) ==
                                      (mpm, keepalive, store, n)) for store in stores]
                        print("| %s | %s | %d | %s |" % (mpm, keepalive, n, " | ".join(
                            cell_text(*cell_figures(c, baseline, args.quiet_margin)) for c in cells)))

        def by_requests(f, check):
            return ("%.3f (%.0f / %.0f)" % (f["ratio"], f["rps_p"], f["rps_u"]) if f else "no quiet pair") + (
                "" if check == "ok" else " CHECK FAILED")

        def by_cpu(f):
            return "%.3f (%.0f / %.0f us)" % (f["cpu_ratio"], f["cpu_u"], f["cpu_p"]) if f and f["cpu_ratio"] else "n/a"

        quiet_note = ("the quiet pairs (each run within %d %% of the cheapest of its kind; quiet / all pairs in "
                      "brackets at the end)" % round(args.quiet_margin * 100)) if args.quiet_margin > 0 else "all pairs"
        print("\n## protected / unprotected, 1 KB static file: requests per second (protected / unprotected), "
              "medians of %s; pairs of %d-s wrk runs, -t%d -c%d" % (quiet_note, args.duration, args.threads,
                                                                    args.connections))
        table(lambda q, a, check: by_requests(q, check) + (" [%d/%d]" % (q["pairs"] if q else 0, a["pairs"])
                                                           if args.quiet_margin > 0 else ""))
        print("\n## The same pairs by the server's CPU time per request: unprotected / protected (user + system "
              "of the children, all threads)")
        table(lambda q, a, check: by_cpu(q))
        if args.quiet_margin > 0:
            print("\n## Every pair, quiet or not: requests per second, then CPU time per request")
            table(lambda q, a, check: "%s; %s" % (by_requests(a, check), by_cpu(a)))
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
