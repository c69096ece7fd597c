"""Signed SAML metadata for tests, made with the xmlsec1 command: an enveloped RSA-SHA256
signature with exclusive c14n over the root element (what federations publish)."""
import os
import re
import subprocess
import tempfile

XMLSEC1 = "/usr/bin/xmlsec1"

TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
    '</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>')

ROOT = re.compile(r"<((?:\w+:)?(EntityDescriptor|EntitiesDescriptor))\b([^>]*?)(/?)>", re.S)


def prepare(xml, valid_until=None, cache_duration=None, doc_id="_metadata"):
    """The document with an ID (and validUntil / cacheDuration when given) on its root and
    without any signature it had."""
    xml = re.sub(r"<ds:Signature\b.*?</ds:Signature>", "", xml, flags=re.S)
    m = ROOT.search(xml)
    if not m:
        raise ValueError("no EntityDescriptor/EntitiesDescriptor root")
    attrs = m.group(3)
    for name in ("ID", "validUntil", "cacheDuration"):
        attrs = re.sub(r'\s%s="[^"]*"' % name, "", attrs)
    attrs = ' ID="%s"' % doc_id + attrs
    if valid_until:
        attrs += ' validUntil="%s"' % valid_until
    if cache_duration:
        attrs += ' cacheDuration="%s"' % cache_duration
    return xml[:m.start()] + "<%s%s%s>" % (m.group(1), attrs, m.group(4)) + xml[m.end():], m.group(2)


def sign(xml, key_path, cert_path, valid_until=None, cache_duration=None):
    """xml signed with key_path (its certificate in KeyInfo). Returns text."""
    doc_id = "_metadata"
    xml, root = prepare(xml, valid_until, cache_duration, doc_id)
    m = ROOT.search(xml)
    xml = xml[:m.end()] + TEMPLATE.format(id=doc_id) + xml[m.end():]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.xml")
        out = os.path.join(tmp, "out.xml")
        with open(src, "w") as f:
            f.write(xml)
        p = subprocess.run([XMLSEC1, "--sign", "--privkey-pem", "%s,%s" % (key_path, cert_path),
                            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:" + root,
                            "--output", out, src], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("xmlsec1 --sign failed: " + p.stdout.decode("utf-8", "replace"))
        with open(out) as f:
            return f.read()
