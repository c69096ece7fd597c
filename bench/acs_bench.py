#!/usr/bin/python3 -EsB
"""Login benchmarks of mod_auth_saml in a real httpd (issue 7): prints figures, fails nothing on timing.

    bench/acs_bench.py [--responses 20000] [--attributes 10] [--mpm event,prefork] [--connections 8]
                       [--logins 200] [--build build/plain]

Sections:
  acs      fresh, unique signed Responses (bench/make_responses, test PKI, pre-generated, each posted
           exactly once) consumed per second at /saml/acs by wrk -t1 -c<connections>, against the
           same POST bodies sent to a location that only answers 303 (mod_alias Redirect): the
           client + TLS + POST ceiling. Checked: every /acs answer is a 303 to "/" with a session
           cookie issued (access log and the module's SAML0835 log lines count the same logins),
           and no body is refused.
  memory   RSS of the children before and after all those logins (event MPM).
  login    full SP-initiated logins through a real SimpleSAMLphp IdP with a fresh browser each
           (protected page -> /saml/sso -> IdP form -> password -> auto-POST -> /saml/acs -> page):
           wall time per login, and the module's share from the access log's %D of /saml/sso and
           /saml/acs.

wrk -t1: one client thread leaves the other core to httpd (client and server share this 2-core
machine); -c8 keeps the event MPM's workers busy without queueing far beyond them.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "test", "integration"))
sys.path.insert(0, HERE)

from harness import idp as idpmod  # noqa: E402
from harness import pki_idp, ports  # noqa: E402
from harness.browser import Browser  # noqa: E402
from http_bench import BenchSp, children, parse_wrk  # noqa: E402

# Posts each line of $BODIES once; then stops the thread. Requests sent after the last body (at
# most one per connection) go to a static file and are not counted as logins.
POST_ONCE_LUA = r"""
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local next_body, answered = 0, 0
local target = os.getenv("TARGET")
local probed = false
request = function()
    -- wrk calls request() once while setting the thread up and discards what it returns
    if not probed then probed = true; return wrk.format("GET", "/bench-open/1k.txt") end
    next_body = next_body + 1
    if next_body > #bodies then return wrk.format("GET", "/bench-open/1k.txt") end
    return wrk.format("POST", target, {["Content-Type"] = "application/x-www-form-urlencoded"}, bodies[next_body])
end
response = function(status, headers, body)
    answered = answered + 1
    if answered >= #bodies then wrk.thread:stop() end
end
"""

SERVER_CONF = """SAMLAllowUnsolicited On
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
Redirect seeother /bench-303 /
"""


def access_lines(sp, offset):
    with open(os.path.join(sp.log_dir, "access.log"), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace").splitlines()


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def post_all(sp, bodies, target, connections):
    """wrk posting every body once to target; returns (requests/s for target, count, seconds, lines)."""
    offset = size(os.path.join(sp.log_dir, "access.log"))
    env = dict(os.environ, BODIES=bodies, TARGET=target)
    script = os.path.join(os.path.dirname(bodies), "post-once.lua")
    with open(script, "w") as f:
        f.write(POST_ONCE_LUA)
    # wrk's thread stops itself after the last answer, but wrk itself sleeps out -d: it is ended
    # with SIGINT (it then prints its summary) once the access log holds every request.
    log = os.path.join(sp.log_dir, "access.log")
    started = time.monotonic()
    proc = subprocess.Popen(["wrk", "-t1", "-c%d" % connections, "-d600s", "-s", script, sp.base_url + "/"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    with open(bodies) as f:
        wanted = sum(1 for _ in f)
    # wrk builds a connection's next request before it knows the run is over, and now and then
    # one built body is never sent: the run ends at N POSTs, or when the count stops growing
    # within a connection count of N. The rate is taken up to the last POST seen.
    seen, progress_at = 0, time.monotonic()
    while proc.poll() is None:
        time.sleep(0.02)
        with open(log, "rb") as f:
            f.seek(offset)
            now_seen = f.read().count(b'"POST %s ' % target.encode())
        if now_seen > seen:
            seen, progress_at = now_seen, time.monotonic()
        if seen >= wanted or (seen >= wanted - connections and time.monotonic() - progress_at > 2):
            break
        if time.monotonic() - progress_at > 30:
            proc.kill()
            raise SystemExit("wrk made no progress for 30 s (%d of %d POSTs to %s answered):\n%s" % (
                seen, wanted, target, proc.communicate()[0].decode()))
    elapsed = progress_at - started
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=30)[0].decode()
    time.sleep(0.3)  # the last access-log lines
    seconds = elapsed  # wrk's own figure is rounded to 0.1 s; this is from start to the last log line
    lines = [l for l in access_lines(sp, offset) if '"POST %s ' % target in l]
    return len(lines) / seconds, len(lines), seconds, lines, out


def response_generator(build):
    """bench/make_responses and the test PKI it signs with, from a build directory."""
    maker = os.path.join(build, "bench", "make_responses")
    pki = os.environ.get("SAML_TEST_PKI", os.path.join(build, "test-pki"))
    if not os.access(maker, os.X_OK) or not os.path.isdir(pki):
        raise SystemExit("needs %s and %s: run `make check bench` in %s" % (maker, pki, build))
    return maker, pki


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", type=int, default=20000)
    ap.add_argument("--attributes", type=int, default=10)
    ap.add_argument("--mpm", default="event,prefork")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--logins", type=int, default=200)
    ap.add_argument("--build", default=os.path.join(TOP, "build", "plain"))
    ap.add_argument("--session-store", default="cookie",
                    help="cookie (default) or cache: SAMLSessionStore cache (shmcb), for what a login adds there")
    args = ap.parse_args()
    maker, pki = response_generator(args.build)
    server_conf = SERVER_CONF + ("SAMLSessionStore cache\n" if args.session_store == "cache" else "")

    work = tempfile.mkdtemp(prefix="saml-acs-bench-")
    sp = BenchSp(os.path.join(work, "sp"), ports.free_port(), pki_idp.metadata(pki), server_conf=server_conf)
    os.makedirs(os.path.join(sp.htdocs, "bench-open"), exist_ok=True)
    with open(os.path.join(sp.htdocs, "bench-open", "1k.txt"), "w") as f:
        f.write("x" * 1023 + "\n")
    idp = None
    try:
        print("module: %s" % sp.module)
        print("session store: %s" % args.session_store)
        summary = []
        for mpm in [m for m in args.mpm.split(",") if m]:
            BenchSp.mpm = mpm
            sp.start()
            bodies = os.path.join(work, "bodies-%s.txt" % mpm)
            started = time.monotonic()
            with open(bodies, "w") as f:
                subprocess.run([maker, "--count", str(args.responses), "--acs", sp.base_url + "/saml/acs",
                                "--sp-entity", sp.entity_id, "--idp-entity", pki_idp.IDP_ENTITY,
                                "--attributes", str(args.attributes), "--valid-seconds", "900"],
                               stdout=f, check=True, env=dict(os.environ, SAML_TEST_PKI=pki))
            body_bytes = size(bodies) // args.responses
            print("\n%s MPM: %d Responses (%d attributes, ~%d bytes per POST body) written in %.1f s" % (
                mpm, args.responses, args.attributes, body_bytes, time.monotonic() - started))
            warm = os.path.join(work, "warm.txt")
            with open(bodies) as src, open(warm, "w") as dst:
                dst.write("".join(src.readline() for _ in range(1)))
            post_all(sp, warm, "/bench-303", args.connections)  # TLS sessions, children up
            rss_before = children(sp)
            ceiling, n_c, s_c, lines_c, _ = post_all(sp, bodies, "/bench-303", args.connections)
            log_mark = size(os.path.join(sp.log_dir, "error.log"))
            # the logins in four quarters, RSS after each: warm-up (pools, arenas) tells itself
            # apart from growth that goes on
            with open(bodies) as f:
                all_bodies = f.readlines()
            quarter = (len(all_bodies) + 3) // 4
            n_a, s_a, lines_a, checkpoints = 0, 0.0, [], []
            for q in range(4):
                part = os.path.join(work, "quarter.txt")
                with open(part, "w") as f:
                    f.writelines(all_bodies[q * quarter:(q + 1) * quarter])
                _, n, secs, lines, out = post_all(sp, part, "/saml/acs", args.connections)
                n_a, s_a, lines_a = n_a + n, s_a + secs, lines_a + lines
                checkpoints.append((n_a, children(sp)))
            acs = n_a / s_a if s_a else 0
            rss_after = checkpoints[-1][1]
            with open(os.path.join(sp.log_dir, "error.log"), "rb") as f:
                f.seek(log_mark)
                errors = f.read().decode("utf-8", "replace")
            logins_logged = errors.count("SAML0835 login of ")
            refused = re.findall(r"(SAML\d{4}) [a-z-]+:", errors)
            good = sum(1 for l in lines_a if re.search(r'" 303 ', l))
            good_c = sum(1 for l in lines_c if re.search(r'" 303 ', l))
            ok = good == n_a == logins_logged >= args.responses - 4 * args.connections and not refused and good_c == n_c >= args.responses - args.connections
            print("| target | POSTs | seconds | per second | checked |")
            print("| --- | --- | --- | --- | --- |")
            print("| /bench-303 (ceiling: answers 303, no SAML) | %d | %.1f | %.0f | %d x 303 |" % (n_c, s_c, ceiling, good_c))
            print("| /saml/acs (validate, replay cache, session) | %d | %.1f | %.0f | %d x 303, %d logins logged, "
                  "refusals: %s |" % (n_a, s_a, acs, good, logins_logged, sorted(set(refused)) or "none"))
            print("acs / ceiling = %.3f (target >= 0.10)%s" % (acs / ceiling if ceiling else 0,
                                                               "" if ok else "   CHECK FAILED"))
            print("RSS of the children (KB), before the logins and after each quarter:")
            print("| logins | " + " | ".join("pid %d" % pid for pid in sorted(rss_before)) + " |")
            print("| --- |" + " --- |" * len(rss_before))
            for done, rss in [(0, rss_before)] + checkpoints:
                print("| %d | " % done + " | ".join(str(rss.get(pid, "-")) for pid in sorted(rss_before)) + " |")
            summary.append((mpm, ceiling, acs, ok))
            sp.stop()
            os.remove(bodies)
            sys.stdout.flush()
        print("\n## /acs summary")
        print("| MPM | ceiling POST/s | /acs logins/s | ratio | checked |")
        print("| --- | --- | --- | --- | --- |")
        for mpm, c, a, ok in summary:
            print("| %s | %.0f | %.0f | %.3f | %s |" % (mpm, c, a, a / c if c else 0, "ok" if ok else "NO"))

        # -- full SP-initiated logins through SimpleSAMLphp ------------------------------------------
        if args.logins:
            BenchSp.mpm = "event"
            idp = idpmod.SimpleSamlIdp(os.path.join(work, "idp"), ports.free_port(), log_level="WARNING")
            idp.start()
            with open(sp.idp_metadata_path, "w") as f:
                f.write(idp.metadata_xml())
            sp.start()
            idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text)
            totals, module, acs_us, sso_us = [], [], [], []
            for i in range(args.logins + 5):
                mark = size(os.path.join(sp.log_dir, "access.log"))
                started = time.monotonic()
                r = Browser(verify=False).login(sp.base_url + "/protected/env.cgi", "alice",
                                                idpmod.USERS["alice"]["password"])
                elapsed = time.monotonic() - started
                if r.status != 200 or "SAML_mail=alice@example.org" not in r.text:
                    raise SystemExit("login %d failed: %s %s" % (i, r.status, r.text[:300]))
                time.sleep(0.05)
                timed = {}
                for line in access_lines(sp, mark):
                    # the module's two steps: the protected page answered with the AuthnRequest
                    # redirect (as /saml/sso would), and /saml/acs
                    m = re.search(r'"(GET|POST) (/protected/env\.cgi|/saml/sso|/saml/acs)[ ?].* (\d{3}) \S+ (\d+)$', line)
                    if m and (m.group(2) == "/saml/acs" or m.group(3) in ("302", "303")):
                        step = "acs" if m.group(2) == "/saml/acs" else "sso"
                        timed[step] = timed.get(step, 0) + int(m.group(4))
                if i < 5:
                    continue  # warm-up: PHP opcache, TLS
                totals.append(elapsed * 1000)
                sso_us.append(timed.get("sso", 0))
                acs_us.append(timed.get("acs", 0))
                module.append((timed.get("sso", 0) + timed.get("acs", 0)) / 1000)
            print("\n## Full SP-initiated login through SimpleSAMLphp (%d logins, fresh browser each, event MPM)"
                  % args.logins)
            print("| | median | p90 |")
            print("| --- | --- | --- |")
            p90 = lambda xs: sorted(xs)[int(len(xs) * 0.9) - 1]  # noqa: E731
            print("| whole login, client wall time (ms) | %.1f | %.1f |" % (statistics.median(totals), p90(totals)))
            print("| module: AuthnRequest redirect + /saml/acs, server time %%D (ms) | %.2f | %.2f |" % (
                statistics.median(module), p90(module)))
            print("| of which the AuthnRequest redirect (µs) | %d | %d |" % (statistics.median(sso_us), p90(sso_us)))
            print("| of which /saml/acs (µs) | %d | %d |" % (statistics.median(acs_us), p90(acs_us)))
            print("module share of the login: %.1f %%" % (100 * statistics.median(module) / statistics.median(totals)))
        ours = [l for l in sp.problems() if "auth_saml" in l]
        print("\nauth_saml warnings/errors in the SP error log since the last start: %s" % (ours or "none"))
    finally:
        sp.stop()
        if idp:
            idp.stop()
        if os.environ.get("SAML_BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
