#!/usr/bin/python3 -EsB
"""Federation scale in a real httpd: a signed aggregate of N IdPs (default 10,000, made by
bench/bench_metadata with a real SimpleSAMLphp IdP included so that logins work) served by a
local HTTPS metadata server and loaded with SAMLIdPMetadataURL, against the same site with one
IdP in SAMLIdPMetadataFile. Prints figures; fails nothing on timing.

    bench/metadata_http_bench.py [--entities 10000] [--mpm event,prefork] [--prefork-pool 8]
                                 [--duration 5] [--logins 5] [--build build/plain]

Per MPM and per site:
  start      seconds for `apache2 -t` plus the start until httpd answers (each reads the metadata)
  memory     the children's RSS and PSS (proportional set: shared pages divided among sharers),
             summed, after start and, for the aggregate, after every child took a refreshed copy
  acs        milliseconds of the POST to /acs (validation, session cookie), median of --logins
  protected  wrk requests/s for a 1 KB static file behind AuthType SAML with a session cookie,
             before and after the refresh
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
from harness.metaserver import MetadataServer  # noqa: E402
from harness.sp import ModuleSp  # noqa: E402

FILE_1K = b"x" * 1023 + b"\n"
BENCH_CONF = """
<Location /bench-prot>
    AuthType SAML
    Require valid-user
</Location>
"""


class BenchSp(ModuleSp):
    """The harness's SP without mod_cgid (its daemon would count as a child), event with two
    children or prefork with a fixed pool."""

    mpm = "event"
    pool = 8

    def conf_text(self):
        text = super().conf_text()
        text = re.sub(r"(?m)^LoadModule cgid_module .*\n", "", text)
        text = re.sub(r"(?m)^ScriptSock .*\n", "", text)
        if self.mpm == "event":
            return text.replace("StartServers 1\n", "StartServers 2\n").replace("MinSpareThreads 2\n", "MinSpareThreads 16\n")
        text = text.replace("mpm_event_module", "mpm_prefork_module").replace("mod_mpm_event.so", "mod_mpm_prefork.so")
        for directive in ("StartServers", "ServerLimit", "ThreadsPerChild", "MaxRequestWorkers",
                          "MinSpareThreads", "MaxSpareThreads"):
            text = re.sub(r"(?m)^%s .*\n" % directive, "", text)
        return text.replace("TypesConfig", "StartServers {n}\nServerLimit {n}\nMaxRequestWorkers {n}\n"
                            "MinSpareServers {n}\nMaxSpareServers {n}\nTypesConfig".format(n=self.pool), 1)


def children(sp):
    with open(os.path.join(sp.httpd_dir, "httpd.pid")) as f:
        parent = int(f.read().strip())
    out = subprocess.run(["ps", "--ppid", str(parent), "-o", "pid="], stdout=subprocess.PIPE).stdout.decode()
    return parent, [int(p) for p in out.split()]


def memory_kib(pid):
    rss = pss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def memory(sp):
    parent, kids = children(sp)
    rss = pss = 0
    for pid in kids:
        r, p = memory_kib(pid)
        rss += r
        pss += p
    return len(kids), rss / 1024.0, pss / 1024.0, memory_kib(parent)[0] / 1024.0


def timed_login(sp, user="alice", password="alice-password"):
    """Logs in; returns (browser, milliseconds of the POST to /acs)."""
    b = Browser(verify=False)
    r = b.get(sp.base_url + "/bench-prot/1k.txt")
    submitted = False
    for _ in range(10):
        form = r.saml_post_form()
        if form is not None:
            if "/acs" in form.action:
                started = time.perf_counter()
                r = b.submit(form, follow_redirects=False)
                elapsed = (time.perf_counter() - started) * 1000
                if r.status not in (302, 303):
                    raise SystemExit("/acs answered %s: %s" % (r.status, r.text[:300]))
                return b, elapsed
            r = b.submit(form)
            continue
        login = next((f for f in r.forms() if any(c["type"] == "password" for c in f.controls)), None)
        if login is None or submitted:
            break
        fields = {}
        for c in login.controls:
            if c["type"] == "password":
                fields[c["name"]] = password
            elif c["type"] in ("text", "email") and c["name"]:
                fields[c["name"]] = user
        submitted = True
        r = b.submit(login, fields)
    raise SystemExit("login failed: %s %s" % (r.status, r.text[:300]))


def wrk_rps(url, cookie, duration):
    out = subprocess.run(["wrk", "-t1", "-c8", "-d%ds" % duration, "-H", "Cookie: " + cookie, url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout.decode()
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if non2xx and int(non2xx.group(1)):
        return "%s (%s non-2xx!)" % (re.search(r"Requests/sec:\s*([\d.]+)", out).group(1), non2xx.group(1))
    return re.search(r"Requests/sec:\s*([\d.]+)", out).group(1)


def wait_for_refresh(sp, pids, timeout=120):
    """Until every child logged taking the new document (fetched it or read the backup)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = set()
        for line in sp.log_since_mark().splitlines():
            if "SAML0928 " in line or "SAML0934 " in line:
                m = re.search(r"\[pid (\d+)", line)
                if m:
                    seen.add(int(m.group(1)))
        if set(pids) <= seen:
            return True
        time.sleep(0.5)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=10000)
    ap.add_argument("--mpm", default="event,prefork")
    ap.add_argument("--prefork-pool", type=int, default=8)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--logins", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(TOP, "build", "plain"))
    args = ap.parse_args()
    generator = os.path.join(args.build, "bench", "bench_metadata")
    if not os.access(generator, os.X_OK):
        raise SystemExit("%s is missing: make bench in %s" % (generator, args.build))

    work = tempfile.mkdtemp(prefix="saml-mdbench-")
    idp = idpmod.SimpleSamlIdp(os.path.join(work, "idp"), ports.free_port())
    idp.start()
    server = None
    rows = []
    try:
        idp_xml = idp.metadata_xml()
        with open(os.path.join(work, "idp.xml"), "w") as f:
            f.write(idp_xml)
        print("== generating the aggregate (bench_metadata) ==", flush=True)
        subprocess.run([generator, str(args.entities), "--write", work, "--include", os.path.join(work, "idp.xml")],
                       check=True)
        server = MetadataServer(os.path.join(work, "mds")).start()
        aggregate = open(os.path.join(work, "aggregate.xml"), "rb").read()
        aggregate_next = open(os.path.join(work, "aggregate-next.xml"), "rb").read()
        cache = os.path.join(work, "cache")
        os.makedirs(cache)
        os.chmod(cache, 0o777)

        for mpm in args.mpm.split(","):
            for site in ("one IdP (file)", "%d IdPs (URL)" % args.entities):
                url_site = "URL" in site
                server.serve(aggregate)
                backup = os.path.join(cache, "%s-federation.xml" % mpm)
                conf = ""
                if url_site:
                    conf = ('SAMLIdPMetadataURL %s "%s" 5\nSAMLIdPMetadataSigningCert "%s"\n'
                            'SAMLIdPMetadataCAFile "%s"\nSAMLIdPMetadataMaxSize 100000000\nSAMLDefaultIdP %s\n'
                            % (server.url, backup, os.path.join(work, "signer.crt"), server.ca_file, idp.entity_id))
                BenchSp.mpm = mpm
                BenchSp.pool = args.prefork_pool
                sp = BenchSp(os.path.join(work, "%s-%s" % (mpm, "url" if url_site else "file")), ports.free_port(),
                             None if url_site else idp_xml, server_conf=conf, extra_conf=BENCH_CONF)
                os.makedirs(os.path.join(sp.htdocs, "bench-prot"), exist_ok=True)
                with open(os.path.join(sp.htdocs, "bench-prot", "1k.txt"), "wb") as f:
                    f.write(FILE_1K)
                started = time.perf_counter()
                sp.start(timeout=120)
                start_s = time.perf_counter() - started
                time.sleep(3)
                n, rss, pss, parent_rss = memory(sp)
                idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text)
                time.sleep(2.5)  # SimpleSAMLphp's opcache revalidation
                acs = []
                browser = None
                for _ in range(args.logins):
                    browser, ms = timed_login(sp)
                    acs.append(ms)
                cookie = "; ".join("%s=%s" % (c.name, c.value) for c in browser.cookies if c.name.startswith("saml_session"))
                rps = wrk_rps(sp.base_url + "/bench-prot/1k.txt", cookie, args.duration)
                row = {"mpm": mpm, "site": site, "start": start_s, "children": n, "rss": rss, "pss": pss,
                       "parent": parent_rss, "acs": statistics.median(acs), "acs_min": min(acs), "rps": rps}
                if url_site:
                    sp.mark_log()
                    _, pids = children(sp)
                    server.serve(aggregate_next)
                    refreshed = wait_for_refresh(sp, pids)
                    time.sleep(2)
                    _, rss2, pss2, _ = memory(sp)
                    row.update(refreshed=refreshed, rss_after=rss2, pss_after=pss2,
                               rps_after=wrk_rps(sp.base_url + "/bench-prot/1k.txt", cookie, args.duration))
                sp.stop()
                rows.append(row)
                print("-- %s, %s: %s" % (mpm, site, row))
    finally:
        if server:
            server.stop()
        idp.stop()
        shutil.rmtree(work, ignore_errors=True)

    print("\n| MPM | site | start s | children | RSS MB (PSS MB) after start | after refresh | parent RSS MB | /acs ms median (min) | protected req/s (after refresh) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        after = ("%.0f (%.0f)%s" % (r["rss_after"], r["pss_after"], "" if r["refreshed"] else " NOT ALL REFRESHED")
                 if "rss_after" in r else "-")
        print("| %s | %s | %.1f | %d | %.0f (%.0f) | %s | %.0f | %.1f (%.1f) | %s%s |" % (
            r["mpm"], r["site"], r["start"], r["children"], r["rss"], r["pss"], after, r["parent"], r["acs"],
            r["acs_min"], r["rps"],
            " (%s)" % r["rps_after"] if "rps_after" in r else ""))


if __name__ == "__main__":
    main()
