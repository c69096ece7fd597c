#!/usr/bin/python3 -EsB
"""What the HTTP-Artifact binding costs at the ACS: prints figures, fails nothing on timing.

One SimpleSAMLphp IdP (harness SimpleSamlIdp, tls=True, artifact=True) and two SPs of the
built module: one with SAMLArtifactBinding Prefer (the Response is fetched over the verified
TLS back channel), one with plain HTTP-POST. Each logs alice in N times (fresh cookies each
time); the SPs' access logs give the time httpd spent on /saml/acs (%D), the first login of
each left out as warm-up.

    bench/artifact_bench.py [N]        (default 30)
"""
import os
import shutil
import statistics
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "test", "integration"))

from harness import idp as idpmod  # noqa: E402
from harness import ports  # noqa: E402
from harness.browser import Browser  # noqa: E402
from harness.sp import ModuleSp  # noqa: E402


def acs_times_ms(sp):
    with open(os.path.join(sp.log_dir, "access.log")) as f:
        return [int(line.split()[-1]) / 1000 for line in f if "/saml/acs" in line][1:]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    work = tempfile.mkdtemp(prefix="artifact-bench-")
    idp = idpmod.SimpleSamlIdp(os.path.join(work, "idp"), ports.free_port(), tls=True, artifact=True,
                               log_level="NOTICE")
    sps = []
    try:
        idp.start()
        artifact = ModuleSp(os.path.join(work, "artifact"), ports.free_port(), idp.metadata_xml(),
                            server_conf='SAMLArtifactBinding Prefer\nSAMLArtifactCAFile "%s"\n' % idp.tls_ca_path)
        post = ModuleSp(os.path.join(work, "post"), ports.free_port(), idp.metadata_xml())
        sps = [artifact, post]
        for sp in sps:
            sp.start()
            idp.add_sp(Browser(verify=False).get(sp.base_url + "/saml/metadata").text)
        for sp in sps:
            browser = Browser(verify=False)
            for _ in range(n):
                browser.clear_cookies()
                r = browser.login(sp.base_url + "/protected/env.cgi", "alice", "alice-password")
                if r.status != 200:
                    sys.exit("login failed at %s: %d" % (sp.base_url, r.status))
        print("/saml/acs, %d logins each (httpd's %%D, first login left out)" % n)
        for name, sp in (("HTTP-Artifact", artifact), ("HTTP-POST", post)):
            t = sorted(acs_times_ms(sp))
            print("  %-14s median %6.1f ms   p90 %6.1f ms   max %6.1f ms"
                  % (name, statistics.median(t), t[int(len(t) * 0.9)], t[-1]))
    finally:
        for sp in sps:
            sp.stop()
        idp.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
