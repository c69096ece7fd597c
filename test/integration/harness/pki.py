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
