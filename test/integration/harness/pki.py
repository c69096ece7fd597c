"""Throwaway keys and self-signed certificates made with the openssl command."""
import base64
import os
import re

from . import procs

OPENSSL = "/usr/bin/openssl"


def make_key_and_cert(directory, name, common_name, days=30):
    """Writes <name>.key (RSA-2048, PKCS#8 PEM) and <name>.crt (self-signed, SHA-256) in `directory`.

    Returns (key_path, cert_path).
    """
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".crt")
    procs.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", str(days),
               "-subj", "/CN=" + common_name, "-keyout", key, "-out", crt])
    os.chmod(key, 0o600)
    return key, crt


def pem_body(cert_path_or_pem):
    """The base64 body of a PEM certificate (no header lines, no whitespace), as used in metadata."""
    text = cert_path_or_pem
    if not text.lstrip().startswith("-----"):
        with open(cert_path_or_pem) as f:
            text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not m:
        raise ValueError("no PEM certificate found")
    return "".join(m.group(1).split())


def der_from_body(body):
    return base64.b64decode("".join(body.split()))


def pem_from_body(body):
    b = "".join(body.split())
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def make_ca_and_tls_cert(directory, host="127.0.0.1", days=30):
    """A throwaway CA and a TLS server certificate it issued for `host` (an IP or DNS
    subjectAltName, CA:FALSE), so a client can verify the server with the CA file alone.

    Writes ca.key, ca.crt, tls.key, tls.crt in `directory`; returns (ca_crt, tls_key, tls_crt).
    """
    os.makedirs(directory, exist_ok=True)
    path = lambda name: os.path.join(directory, name)
    procs.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", str(days),
               "-subj", "/CN=mod_auth_saml test CA", "-keyout", path("ca.key"), "-out", path("ca.crt"),
               "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    procs.run([OPENSSL, "req", "-new", "-newkey", "rsa:2048", "-sha256", "-nodes", "-subj", "/CN=" + host,
               "-keyout", path("tls.key"), "-out", path("tls.csr")])
    san = ("IP:" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", host) else "DNS:") + host
    with open(path("tls.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s,DNS:localhost\n" % san)
    procs.run([OPENSSL, "x509", "-req", "-in", path("tls.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
               "-CAcreateserial", "-days", str(days), "-sha256", "-extfile", path("tls.ext"), "-out", path("tls.crt")])
    for name in ("ca.key", "tls.key"):
        os.chmod(path(name), 0o600)
    return path("ca.crt"), path("tls.key"), path("tls.crt")
