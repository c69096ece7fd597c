"""The demo behind scripts/demo: a SimpleSAMLphp IdP (users alice and bob) and Apache httpd with
mod_auth_saml on https://localhost:<port>, configured from conf.d/demo-idp.conf, in front of
demo/htdocs. Runs until Ctrl-C, SIGTERM or `scripts/demo stop`; with --check (or
SAML_DEMO_CHECK=1) logs in once as alice, prints what the app saw, and stops.

Environment: SAML_MODULE (the module), DEMO_PORT (default 8443), DEMO_DIR (default build/demo-run).
"""
import os
import re
import shutil
import signal
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "test", "integration"))

from harness import idp as idpmod  # noqa: E402
from harness import ports  # noqa: E402
from harness.browser import Browser  # noqa: E402
from harness.sp import ModuleSp  # noqa: E402

PAGES = ("", "protected", "admins", "staff")


class DemoSp(ModuleSp):
    """The harness's httpd, but its site comes from conf.d/demo-idp.conf and demo/htdocs."""

    def _write_pages(self):
        source = os.path.join(TOP, "demo", "htdocs", "index.php")
        for sub in PAGES:
            d = os.path.join(self.htdocs, sub)
            os.makedirs(d, exist_ok=True)
            shutil.copy(source, os.path.join(d, "index.php"))
            os.chmod(os.path.join(d, "index.php"), 0o755)

    def conf_text(self):
        with open(os.path.join(TOP, "conf.d", "demo-idp.conf")) as f:
            snippet = f.read()
        values = {
            "SP_PORT": str(self.port),
            "TLS_CERT": os.path.join(self.sp_dir, "tls.crt"),
            "TLS_KEY": os.path.join(self.sp_dir, "tls.key"),
            "SP_CERT": os.path.join(self.sp_dir, "sp.crt"),
            "SP_KEY": os.path.join(self.sp_dir, "sp.key"),
            "IDP_METADATA": self.idp_metadata_path,
            "SESSION_SECRET": self.secret_path,
            "DOCUMENT_ROOT": self.htdocs,
        }
        site = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], snippet)
        site_path = os.path.join(self.httpd_dir, "demo-idp.conf")
        with open(site_path, "w") as f:
            f.write(site)
        # Everything but the site itself: modules, logs, the listener. The harness's own config
        # also has a site; keep only what comes before its first SAML line.
        base = super().conf_text()
        base = base[:base.index("SSLEngine on")]
        return base + "DocumentRoot \"%s\"\n<Directory />\n    Require all denied\n</Directory>\n" \
                      "Include \"%s\"\n" % (self.htdocs, site_path)


def banner(sp, idp):
    print("""
  mod_auth_saml demo is running.

    Open        %(url)s/   (a self-signed certificate: accept the browser's warning)
    Log in as   alice / alice-password   (in the admins group, staff)
             or bob   / bob-password     (neither: /admins/ and /staff/ refuse him with 403)
    IdP         %(idp)s  (SimpleSAMLphp)
    SP metadata %(url)s/saml/metadata
    Config      conf.d/demo-idp.conf (filled in: %(conf)s)
    Logs        %(logs)s

  Stop with Ctrl-C, or: scripts/demo stop
""" % {"url": sp.base_url, "idp": idp.base_url, "conf": os.path.join(sp.httpd_dir, "demo-idp.conf"),
       "logs": sp.log_dir})
    sys.stdout.flush()


def check(sp, idp):
    """One login as alice, like a person would: /protected/ -> IdP login form -> back."""
    b = Browser(verify=False)
    started = time.monotonic()
    r = b.login(sp.base_url + "/protected/", "alice", idpmod.USERS["alice"]["password"])
    took = time.monotonic() - started
    ok = r.status == 200 and "Logged in as <strong>alice</strong>" in r.text
    print("check: login as alice at %s -> %d %s in %.2f s (%d hops)" % (sp.base_url + "/protected/", r.status,
                                                                      r.url, took, len(r.history)))
    for name, value in re.findall(r"<tr><td><code>(SAML_[^<]*)</code></td><td>([^<]*)</td></tr>", r.text):
        if not re.search(r"_[0-9]+$|_COUNT$", name):
            print("check:   %s = %s" % (name, value))
    admins = b.get(sp.base_url + "/admins/")
    staff = b.get(sp.base_url + "/staff/")
    print("check: alice at /admins/ -> %d, at /staff/ (Require expr) -> %d" % (admins.status, staff.status))
    ok = ok and admins.status == 200 and staff.status == 200
    b2 = Browser(verify=False)
    r2 = b2.login(sp.base_url + "/admins/", "bob", idpmod.USERS["bob"]["password"])
    staff2 = b2.get(sp.base_url + "/staff/")
    print("check: bob at /admins/ -> %d (403 expected), at /staff/ -> %d (403 expected)" % (r2.status, staff2.status))
    ok = ok and r2.status == 403 and staff2.status == 403
    anonymous = Browser(verify=False)
    home = anonymous.get(sp.base_url + "/")
    # /staff/ (an expression) first goes to our sso endpoint, which sends the browser on to the IdP.
    to_idp = anonymous.request("GET", sp.base_url + "/staff/", follow_redirects=False)
    if to_idp.status in (301, 302, 303) and "/saml/sso" in to_idp.location:
        to_idp = anonymous.request("GET", to_idp.location, follow_redirects=False)
    print("check: anonymous at / -> %d %s; at /staff/ -> %d to the IdP" % (
        home.status, "with a Log in link" if "id=\"login\"" in home.text else "WITHOUT a Log in link",
        to_idp.status))
    ok = ok and home.status == 200 and "id=\"login\"" in home.text and to_idp.status in (302, 303) \
        and to_idp.location.startswith(idp.sso_url)
    problems = sp.problems(allow=(r"AH0162[9]|AH0163[01]",))  # authz_core logs bob's refusals
    print("check: SP error log: %s" % ("no unexpected warnings or errors" if not problems else "\n  ".join(problems)))
    ok = ok and not problems
    print("check: %s" % ("PASSED" if ok else "FAILED"))
    if not ok:
        print(r.text[:3000])
    return ok


def main():
    check_mode = "--check" in sys.argv[1:] or os.environ.get("SAML_DEMO_CHECK") == "1"
    port = int(os.environ.get("DEMO_PORT", "8443"))
    work = os.path.abspath(os.environ.get("DEMO_DIR") or os.path.join(TOP, "build", "demo-run"))
    if ports.is_listening(port, host="127.0.0.1"):
        print("demo: port %d is in use (another demo? scripts/demo stop); choose another with DEMO_PORT=" % port)
        return 1
    shutil.rmtree(work, ignore_errors=True)  # fresh keys, secret and IdP state on every start
    os.makedirs(work)
    pid_file = os.path.join(work, "demo.pid")

    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    idp = sp = None
    try:
        idp = idpmod.SimpleSamlIdp(os.path.join(work, "idp"), ports.free_port(), log_level="NOTICE")
        idp.start()
        sp = DemoSp(os.path.join(work, "sp"), port, idp.metadata_xml(), host="localhost")
        sp.start()
        metadata = Browser(verify=False).get(sp.base_url + "/saml/metadata")
        if metadata.status != 200:
            print("demo: the SP did not serve its metadata: %s" % metadata)
            return 1
        idp.add_sp(metadata.text)
        with open(pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
        banner(sp, idp)
        sp.mark_log()
        if check_mode:
            return 0 if check(sp, idp) else 1
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        print("demo: stopping")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if sp is not None:
            sp.stop()
        if idp is not None:
            idp.stop()
        try:
            os.unlink(pid_file)
        except OSError:
            pass
        print("demo: stopped")


if __name__ == "__main__":
    sys.exit(main())
