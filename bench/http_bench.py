#!/usr/bin/python3 -EsB
"""HTTP benchmarks of mod_auth_saml in a real httpd (issue 7): prints figures, fails nothing on timing.

Reuses test/integration/harness: SimpleSamlIdp (a real SimpleSAMLphp) to log in once per user,
ModuleSp (httpd + the module, TLS on loopback) with extra_conf adding

    /bench-open/1k.txt   a static 1 KB file, no authentication
    /bench-prot/1k.txt   the same file behind AuthType SAML / Require valid-user

The session cookies minted by those logins are then replayed by wrk with -H 'Cookie: ...'.

    bench/http_bench.py [--duration 10] [--runs 5] [--threads 1] [--connections 8]
                        [--mpm event,prefork] [--attrs 5,30,100] [--memory 200000] [--memory-control] [--skip-wrk]

Sections:
  cookie   Set-Cookie bytes after /acs for 5, 30, 100, 300 attributes (the module always chunks
           at 3800 bytes a cookie; "unchunked" is the single cookie value it would otherwise be)
  static   per MPM and attribute count: <runs> pairs of <duration>-s wrk runs, unprotected then
           protected in odd pairs, the other way round in even ones, each checked (wrk's non-2xx count is 0; the bench access log shows every
           protected request as 200 for the expected user), ratio per pair, medians
  memory   RSS of the httpd children before/after N authenticated requests (event MPM); with
           --memory-control the same on the unprotected file with the same Cookie header
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "test", "integration"))

from harness import idp as idpmod  # noqa: E402
from harness import ports  # noqa: E402
from harness.browser import Browser  # noqa: E402
from harness.sp import ModuleSp  # noqa: E402

FILE_1K = ("0123456789abcdef" * 63 + "0123456789abcde\n").encode("ascii")  # 1024 bytes
assert len(FILE_1K) == 1024

BENCH_CONF = """
<Location /bench-prot>
    AuthType SAML
    SAMLUserAttribute uid
    Require valid-user
</Location>
LogFormat "%>s %u %U" benchuser
CustomLog "{logs}/bench-user.log" benchuser
"""

PREFORK_POOL = 16


def user_with(n):
    """A user with n single-valued attributes (uid and n-1 others of ~24 characters)."""
    name = "u%d" % n
    attrs = {"uid": [name]}
    for i in range(1, n):
        attrs["attr%03d" % i] = ["value-%03d-of-user-%s-xxxx" % (i, name)]
    return name, {"password": name + "-password", "attributes": attrs}


class BenchSp(ModuleSp):
    """ModuleSp with the generated httpd.conf edited for the benchmark: event (the harness's) with
    both children started at once, or prefork with a fixed pool."""

    mpm = "event"

    def conf_text(self):
        text = super().conf_text()
        if self.mpm == "event":
            text = text.replace("StartServers 1\n", "StartServers 2\n")
            return text
        text = text.replace("mpm_event_module", "mpm_prefork_module").replace("mod_mpm_event.so", "mod_mpm_prefork.so")
        for directive in ("StartServers", "ServerLimit", "ThreadsPerChild", "MaxRequestWorkers",
                          "MinSpareThreads", "MaxSpareThreads"):
            text = re.sub(r"(?m)^%s .*\n" % directive, "", text)
        text = text.replace("TypesConfig", "StartServers {n}\nServerLimit {n}\nMaxRequestWorkers {n}\n"
                            "MinSpareServers {n}\nMaxSpareServers {n}\nTypesConfig".format(n=PREFORK_POOL), 1)
        return text


def login(site_sp, user, password):
    """Logs in through the IdP; returns (browser, Set-Cookie headers of the /acs response)."""
    b = Browser(verify=False)
    r = b.get(site_sp.base_url + "/bench-prot/1k.txt")
    acs_cookies = None
    submitted = False
    for _ in range(10):
        form = r.saml_post_form()
        if form is not None:
            if "/acs" in form.action:
                r = b.submit(form, follow_redirects=False)
                if r.status != 303:
                    raise SystemExit("login of %s refused at /acs: %s %s" % (user, r.status, r.text[:300]))
                acs_cookies = r.set_cookies()
                r = b.get(r.location)
                break
            r = b.submit(form)
            continue
        login_form = next((f for f in r.forms() if any(c["type"] == "password" for c in f.controls)), None)
        if login_form is None or submitted:
            break
        fields = {}
        for c in login_form.controls:
            if c["type"] == "password":
                fields[c["name"]] = password
            elif c["type"] in ("text", "email") and c["name"]:
                fields[c["name"]] = user
        submitted = True
        r = b.submit(login_form, fields)
    if acs_cookies is None:
        raise SystemExit("login of %s failed: %s %s" % (user, r.status, r.text[:300]))
    # the redirect back may fail when the cookies are too big for httpd (LimitRequestFieldSize)
    return b, acs_cookies, (r.status if r.body == FILE_1K or r.status != 200 else "200 but wrong body")


def cookie_header(browser, base_name="saml_session"):
    pairs = ["%s=%s" % (c.name, c.value) for c in browser.cookies if c.name.startswith(base_name)]
    return "; ".join(pairs)


def parse_wrk(out):
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return (float(m.group(1)) if m else 0.0, int(total.group(1)) if total else 0,
            int(non2xx.group(1)) if non2xx else 0, errors.group(1).strip() if errors else "")


def wrk(url, args, cookie=None, duration=None):
    # --pin: wrk on the second CPU, the server on the first (pin_server)
    argv = ["taskset", "-c", "1"] if getattr(args, "pin", False) else []
    argv += ["wrk", "-t%d" % args.threads, "-c%d" % args.connections, "-d%ds" % (duration or args.duration),
             "--latency"]
    if cookie:
        argv += ["-H", "Cookie: " + cookie]
    if getattr(args, "close", False):
        argv += ["-H", "Connection: close"]  # a new connection (TCP + TLS) for every request
    argv.append(url)
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout.decode()
    return parse_wrk(out) + (out,)


def user_log_counts(path, offset):
    """Counts of (status, user, path) lines in the bench access log after offset."""
    counts = {}
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            counts[line] = counts.get(line, 0) + 1
    return counts


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def children(sp):
    with open(os.path.join(sp.httpd_dir, "httpd.pid")) as f:
        parent = int(f.read().strip())
    out = subprocess.run(["ps", "--ppid", str(parent), "-o", "pid=,rss="], stdout=subprocess.PIPE).stdout.decode()
    return {int(p): int(r) for p, r in (line.split() for line in out.splitlines() if line.strip())}


def pin_server(sp, cpu="0"):
    """Keeps httpd (the parent, so every child it forks later, and the children running now, all
    their threads) on one CPU, away from wrk's: the figures then measure the server's capacity
    rather than how the scheduler shares two cores between client and server."""
    with open(os.path.join(sp.httpd_dir, "httpd.pid")) as f:
        parent = int(f.read().strip())
    for pid in [parent] + list(children(sp)):
        subprocess.run(["taskset", "-a", "-cp", cpu, str(pid)], stdout=subprocess.DEVNULL, check=True)


def server_cpu(sp):
    """CPU seconds (user + system, all threads) the SP's children have used so far, and their pids."""
    total = 0
    pids = children(sp)
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK"), set(pids)


def cpu_per_request(sp, run):
    """Runs run() (a wrk call) and returns its result and the server's CPU microseconds per
    request, or None when a child came or went meanwhile (its time would be lost)."""
    before, pids = server_cpu(sp)
    result = run()
    after, pids_after = server_cpu(sp)
    requests = result[1]
    return result, ((after - before) * 1e6 / requests if requests and pids == pids_after else None)


def checked_pair(sp, args, cookie, user, cpu=None, protected_first=False, cookie_run=True):
    """wrk on the unprotected file (without, then, if cookie_run, with the Cookie header) and on
    the protected one; protected_first swaps the order, so that alternating it across runs takes
    whatever the first or the last run of a pair pays (sockets left in TIME_WAIT by a run with a
    new connection per request, caches just warmed) out of the median. cpu, a dict, gets the
    server's CPU microseconds per request of the unprotected run without the Cookie header and of
    the protected run ("open", "prot"): unlike requests per second, hardly moved by what else the
    machine runs."""
    log = os.path.join(sp.log_dir, "bench-user.log")
    result = {}

    def unprotected():
        (result["rps_u"], result["n_u"], bad_u, result["err_u"], _), result["cpu_u"] = cpu_per_request(
            sp, lambda: wrk(sp.base_url + "/bench-open/1k.txt", args))
        result["bad_u"] = bad_u
        result["rps_c"] = 0
        if cookie_run:
            # the unprotected file again with the session's Cookie header: what sending, decrypting
            # and parsing the cookie bytes costs without the module looking at them
            result["rps_c"], _, bad_c, _, _ = wrk(sp.base_url + "/bench-open/1k.txt", args, cookie)
            result["bad_u"] += bad_c

    def protected():
        (result["rps_p"], result["n_p"], result["bad_p"], result["err_p"], _), result["cpu_p"] = cpu_per_request(
            sp, lambda: wrk(sp.base_url + "/bench-prot/1k.txt", args, cookie))

    time.sleep(0.5)  # the last access-log lines of what ran before come in after wrk ends
    offset = size(log)  # unprotected lines are left out of the check below, whichever runs first
    for run in ((protected, unprotected) if protected_first else (unprotected, protected)):
        run()
    if cpu is not None:
        cpu["open"], cpu["prot"] = result["cpu_u"], result["cpu_p"]
    time.sleep(0.5)  # the last access-log lines
    counts = user_log_counts(log, offset)
    good = counts.get("200 %s /bench-prot/1k.txt" % user, 0)
    # wrk's socket "read" errors are connections it cuts when the run ends; they are shown, not counted
    others = {k: v for k, v in counts.items()
              if k != "200 %s /bench-prot/1k.txt" % user and not k.endswith(" /bench-open/1k.txt")}
    ok = result["bad_u"] == 0 and result["bad_p"] == 0 and not others and good >= result["n_p"]
    note = "" if ok else " CHECK FAILED non2xx=%d/%d other log lines=%s errors=%r/%r" % (
        result["bad_u"], result["bad_p"], dict(list(others.items())[:3]), result["err_u"], result["err_p"])
    return result["rps_u"], result["rps_c"], result["rps_p"], result["n_u"], result["n_p"], ok, note


def restart_on_event(sp, cookies, attr_counts, args, warm_up):
    """The SP restarted on the event MPM and warmed up (pools, TLS sessions, both children) with
    the session of the largest attribute count; returns (count, Cookie header, protected URL)."""
    sp.stop()
    BenchSp.mpm = "event"
    sp.start()
    n = attr_counts[-1] if attr_counts else 5
    header = cookies[n][1]
    url = sp.base_url + "/bench-prot/1k.txt"
    wrk(url, args, header, duration=warm_up)
    return n, header, url


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--mpm", default="event,prefork")
    ap.add_argument("--attrs", default="5,30,100")
    ap.add_argument("--cookie-attrs", default="5,30,100,300")
    ap.add_argument("--memory", type=int, default=200000, help="authenticated requests for the RSS check (0: skip)")
    ap.add_argument("--memory-control", action="store_true",
                    help="repeat the RSS check on the unprotected file with the same Cookie header")
    ap.add_argument("--skip-wrk", action="store_true")
    ap.add_argument("--perf", type=int, default=0,
                    help="seconds of `perf record` on the children (event MPM) while wrk requests the protected "
                         "file with the last --attrs session; prints the top of the profile (0: skip)")
    args = ap.parse_args()
    attr_counts = [int(x) for x in args.attrs.split(",") if x]
    cookie_counts = [int(x) for x in args.cookie_attrs.split(",") if x]
    users = dict(user_with(n) for n in sorted(set(attr_counts + cookie_counts)))

    work = tempfile.mkdtemp(prefix="saml-http-bench-")
    idp = idpmod.SimpleSamlIdp(os.path.join(work, "idp"), ports.free_port(), users=users, log_level="WARNING")
    idp.start()
    # The 300-attribute session's cookies (~17 KB) pass only with a larger header limit: with
    # the default 8190 the module refuses that login at /acs (SAML0834), as it should.
    sp = BenchSp(os.path.join(work, "sp"), ports.free_port(), idp.metadata_xml(), extra_conf="",
                 server_conf="LimitRequestFieldSize 32768")
    sp.extra_conf = BENCH_CONF.format(logs=sp.log_dir)
    for d in ("bench-open", "bench-prot"):
        os.makedirs(os.path.join(sp.htdocs, d), exist_ok=True)
        with open(os.path.join(sp.htdocs, d, "1k.txt"), "wb") as f:
            f.write(FILE_1K)
    shutil.copy(os.path.join(sp.htdocs, "protected", "env.cgi"), os.path.join(sp.htdocs, "bench-prot", "env.cgi"))
    try:
        sp.start()
        idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text)
        print("module: %s" % sp.module)
        print("work dir: %s" % work)

        # -- logins, cookie sizes -------------------------------------------------------------------
        cookies = {}
        print("\n## Cookie bytes vs attribute count (Set-Cookie of the /acs response)")
        print("| attributes | sealed value (one cookie, unchunked) | chunks | Set-Cookie header bytes, all chunks | "
              "Cookie request header bytes | GET with that Cookie |")
        print("| --- | --- | --- | --- | --- | --- |")
        for n in cookie_counts:
            name = "u%d" % n
            b, set_cookies, status = login(sp, name, users[name]["password"])
            header = cookie_header(b)
            live = [h for h in set_cookies if not re.search(r"(?i)max-age=0", h)]
            values = [h.split(";", 1)[0].split("=", 1)[1] for h in live]
            sealed = sum(len(v) for v in values)
            set_cookie_bytes = sum(len("Set-Cookie: ") + len(h) + 2 for h in live)
            print("| %d | %d | %d | %d | %d | %s |" % (n, sealed, len(live), set_cookie_bytes,
                                                      len("Cookie: ") + len(header), status))
            cookies[n] = (name, header)
        sys.stdout.flush()

        # one content check: the page with the cookie, and the user it is served to
        for n in attr_counts:
            name, header = cookies[n]
            r = Browser(verify=False).fetch("GET", sp.base_url + "/bench-prot/env.cgi", headers={"Cookie": header})
            if r.status != 200 or ("REMOTE_USER=%s\n" % name) not in r.text:
                raise SystemExit("content check failed for %s: %s %s" % (name, r.status, r.text[:300]))
        print("\ncontent check: /bench-prot/env.cgi shows REMOTE_USER=u<N> for each cookie: ok")

        # -- static 1 KB ------------------------------------------------------------------------------
        if not args.skip_wrk:
            summary = []
            for mpm in [m for m in args.mpm.split(",") if m]:
                sp.stop()
                BenchSp.mpm = mpm
                sp.start()
                wrk(sp.base_url + "/bench-open/1k.txt", args, duration=2)  # warm-up (TLS, children)
                for n in attr_counts:
                    name, header = cookies[n]
                    wrk(sp.base_url + "/bench-prot/1k.txt", args, header, duration=2)
                    print("\n## Static 1 KB, %s MPM, %d attributes in the session (wrk -t%d -c%d -d%ds)" % (
                        mpm, n, args.threads, args.connections, args.duration))
                    print("| run | unprotected req/s | unprotected, same Cookie header | protected req/s | ratio | "
                          "ratio to the same-cookie run | requests (u/p) | checked |")
                    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
                    ratios, cookie_ratios, us, cs, ps = [], [], [], [], []
                    for run in range(1, args.runs + 1):
                        u, c, p, nu, np_, ok, note = checked_pair(sp, args, header, name, protected_first=run % 2 == 0)
                        ratios.append(p / u if u else 0)
                        cookie_ratios.append(p / c if c else 0)
                        us.append(u)
                        cs.append(c)
                        ps.append(p)
                        print("| %d | %.0f | %.0f | %.0f | %.3f | %.3f | %d/%d | %s%s |" % (
                            run, u, c, p, ratios[-1], cookie_ratios[-1], nu, np_, "ok" if ok else "NO", note))
                        sys.stdout.flush()
                    print("| median | %.0f | %.0f | %.0f | %.3f | %.3f | | |" % (
                        statistics.median(us), statistics.median(cs), statistics.median(ps),
                        statistics.median(ratios), statistics.median(cookie_ratios)))
                    summary.append((mpm, n, statistics.median(us), statistics.median(cs), statistics.median(ps),
                                    statistics.median(ratios), statistics.median(cookie_ratios)))
            print("\n## Summary (medians)")
            print("| MPM | attributes | unprotected req/s | unprotected + Cookie | protected req/s | ratio | "
                  "ratio to unprotected + Cookie |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for mpm, n, u, c, p, r, rc in summary:
                print("| %s | %d | %.0f | %.0f | %.0f | %.3f | %.3f |" % (mpm, n, u, c, p, r, rc))
            sys.stdout.flush()

        # -- memory -----------------------------------------------------------------------------------
        if args.memory:
            runs = [("protected", "/bench-prot/1k.txt")]
            if args.memory_control:  # the same requests to the unprotected file: httpd's, TLS's and malloc's own drift
                runs.append(("unprotected, same Cookie header (control)", "/bench-open/1k.txt"))
            for what, path in runs:
                n, header, url = restart_on_event(sp, cookies, attr_counts, args, warm_up=3)
                url = sp.base_url + path
                before = children(sp)
                done, bad = 0, 0
                checkpoints = []  # RSS after each further quarter, to tell warm-up from growth
                while done < args.memory:
                    _, total, non2xx, _, _ = wrk(url, args, header, duration=10)
                    done += total
                    bad += non2xx
                    if done >= (len(checkpoints) + 1) * args.memory / 4:
                        checkpoints.append((done, children(sp)))
                after = children(sp)
                print("\nRSS checkpoints (KB per child): " + "; ".join(
                    "%d req: %s" % (d, " ".join(str(v) for _, v in sorted(c.items()))) for d, c in checkpoints))
                print("\n## Memory, event MPM, %d attributes, %s: RSS of the children (KB) before and after %d "
                      "requests with the session cookie (non-2xx: %d)" % (n, what, done, bad))
                print("| pid | before | after | change |")
                print("| --- | --- | --- | --- |")
                for pid in sorted(set(before) | set(after)):
                    b_, a_ = before.get(pid), after.get(pid)
                    print("| %d | %s | %s | %s |" % (pid, b_, a_, (a_ - b_) if a_ is not None and b_ is not None else "-"))
                sys.stdout.flush()
        if args.perf:
            n, header, url = restart_on_event(sp, cookies, attr_counts, args, warm_up=2)
            data = os.path.join(work, "perf.data")
            pids = ",".join(str(p) for p in children(sp))
            rec = subprocess.Popen(["perf", "record", "-q", "-F", "999", "-g", "-o", data, "-p", pids],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rps, total, non2xx, _, _ = wrk(url, args, header, duration=args.perf)
            rec.send_signal(2)
            rec.wait()
            print("\n## perf profile, event MPM, protected 1 KB file, %d attributes (%.0f req/s under perf, "
                  "non-2xx %d): top symbols by self time" % (n, rps, non2xx))
            for sort in ("dso", "dso,symbol"):
                out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", sort,
                                      "--percent-limit", "0.7", "-g", "none"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
                print("\n".join(re.sub(r"[ -]+$", "", l) for l in out.splitlines() if l.strip() and not l.startswith("#")))
        ours = [l for l in sp.problems() if "auth_saml" in l]
        print("\nauth_saml warnings/errors in the SP error log since the last start: %s" % (ours or "none"))
    finally:
        sp.stop()
        idp.stop()
        if os.environ.get("SAML_BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
