"""Reading SAML messages in tests: decode, parse with xml.etree, check signatures with xmlsec1.

For asserting on what an IdP sent, not for security decisions (the module does those).
"""
import base64
import os
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from xml.sax.saxutils import escape, quoteattr

from . import procs

XMLSEC1 = "/usr/bin/xmlsec1"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}


RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def decode_redirect(value):
    """The XML bytes of an HTTP-Redirect binding value (base64 of raw DEFLATE)."""
    return zlib.decompress(base64.b64decode("".join(value.split()), validate=True), -15)


def verify_redirect_signature(raw_query, cert_path):
    """Checks an HTTP-Redirect binding signature (RSA-SHA256) over the octets received: the
    SAMLRequest/SAMLResponse, RelayState and SigAlg parameters exactly as they appear in
    raw_query. Returns (ok, detail)."""
    params = {}
    for part in raw_query.split("&"):
        name = part.split("=", 1)[0]
        params.setdefault(name, part)
    msg = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
    if "Signature" not in params or "SigAlg" not in params:
        return False, "unsigned"
    sigalg = urllib.parse.unquote_plus(params["SigAlg"].split("=", 1)[1])
    if sigalg != RSA_SHA256:
        return False, "SigAlg " + sigalg
    signed = "&".join(params[n] for n in (msg, "RelayState", "SigAlg") if n in params)
    signature = base64.b64decode(urllib.parse.unquote_plus(params["Signature"].split("=", 1)[1]))
    with tempfile.TemporaryDirectory() as d:
        pub = os.path.join(d, "pub.pem")
        sig = os.path.join(d, "sig")
        procs.run(["/usr/bin/openssl", "x509", "-pubkey", "-noout", "-in", cert_path, "-out", pub])
        with open(sig, "wb") as f:
            f.write(signature)
        try:
            procs.run(["/usr/bin/openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig],
                      input=signed.encode("ascii"))
            return True, "verified"
        except procs.ProcessError as e:
            return False, str(e)


def decode_post(value):
    """The XML bytes of an HTTP-POST binding SAMLResponse/SAMLRequest value (base64)."""
    return base64.b64decode("".join(value.split()), validate=True)


def _text(el):
    return "".join(el.itertext()).strip() if el is not None else None


def signature_info(parent):
    """(reference URI, certificate base64) of the ds:Signature that is a direct child of parent,
    or None."""
    sig = parent.find("ds:Signature", NS)
    if sig is None:
        return None
    ref = sig.find("ds:SignedInfo/ds:Reference", NS)
    cert = sig.find(".//ds:X509Certificate", NS)
    return {
        "uri": ref.get("URI") if ref is not None else None,
        "algorithm": sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm"),
        "certificate": "".join(_text(cert).split()) if cert is not None else None,
    }


class ParsedResponse:
    """The parts of a samlp:Response that tests look at (one Assertion, not encrypted)."""

    def __init__(self, xml_bytes):
        self.xml = xml_bytes
        self.root = ET.fromstring(xml_bytes)
        r = self.root
        if r.tag != "{%s}Response" % NS["samlp"]:
            raise ValueError("not a samlp:Response: %s" % r.tag)
        self.id = r.get("ID")
        self.destination = r.get("Destination")
        self.in_response_to = r.get("InResponseTo")
        self.issuer = _text(r.find("saml:Issuer", NS))
        status = r.find("samlp:Status/samlp:StatusCode", NS)
        self.status = status.get("Value") if status is not None else None
        self.signature = signature_info(r)
        self.encrypted = r.find("saml:EncryptedAssertion/xenc:EncryptedData", NS) is not None
        # After samlmsg.decrypt() the Assertion sits inside the EncryptedAssertion element.
        assertions = r.findall("saml:Assertion", NS) + r.findall("saml:EncryptedAssertion/saml:Assertion", NS)
        self.assertion = assertions[0] if len(assertions) == 1 else None
        self.assertion_count = len(assertions)
        a = self.assertion
        self.assertion_id = a.get("ID") if a is not None else None
        self.assertion_signature = signature_info(a) if a is not None else None
        self.assertion_issuer = _text(a.find("saml:Issuer", NS)) if a is not None else None
        nameid = a.find("saml:Subject/saml:NameID", NS) if a is not None else None
        self.nameid = _text(nameid)
        self.nameid_format = nameid.get("Format") if nameid is not None else None
        self.nameid_sp_name_qualifier = nameid.get("SPNameQualifier") if nameid is not None else None
        scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS) if a is not None else None
        self.recipient = scd.get("Recipient") if scd is not None else None
        self.audiences = [_text(e) for e in a.findall(
            "saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)] if a is not None else []
        authn = a.find("saml:AuthnStatement", NS) if a is not None else None
        self.session_index = authn.get("SessionIndex") if authn is not None else None
        self.attributes = {}
        self.attribute_name_formats = {}
        if a is not None:
            for attr in a.findall("saml:AttributeStatement/saml:Attribute", NS):
                name = attr.get("Name")
                self.attributes[name] = [_text(v) for v in attr.findall("saml:AttributeValue", NS)]
                self.attribute_name_formats[name] = attr.get("NameFormat")


def verify_signature(xml_bytes, cert_path, node_id=None, id_elements=()):
    """Checks a signature in the document with xmlsec1 and the public key of cert_path.

    Without node_id xmlsec1 checks the first ds:Signature in document order (a signed Response's
    own); node_id selects the ds:Signature whose Id attribute is node_id. KeyInfo in the message
    is not used to find the key. id_elements: more "namespace:LocalName" whose ID attribute is
    an XML ID (Response and Assertion always are). Returns (ok, xmlsec1's output)."""
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(xml_bytes)
        path = f.name
    try:
        argv = [XMLSEC1, "--verify", "--pubkey-cert-pem", cert_path,
                "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"]
        for element in id_elements:
            argv += ["--id-attr:ID", element]
        if node_id:
            argv += ["--node-id", node_id]
        argv.append(path)
        try:
            done = procs.run(argv, timeout=30)
            return True, (done.stdout + done.stderr).decode("utf-8", "replace")
        except procs.ProcessError as e:
            return False, str(e)
    finally:
        os.unlink(path)


def decrypt(xml_bytes, key_path):
    """The document with its first xenc:EncryptedData decrypted by xmlsec1 (bytes)."""
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(xml_bytes)
        path = f.name
    try:
        done = procs.run([XMLSEC1, "--decrypt", "--privkey-pem", key_path, path], timeout=30)
        return done.stdout
    finally:
        os.unlink(path)



def redirect_url(endpoint, xml, key_path=None, relay_state=None, param="SAMLRequest"):
    """An HTTP-Redirect binding URL carrying `xml` (deflated, base64), signed with key_path's
    RSA key over SAMLRequest/SAMLResponse, RelayState and SigAlg as the binding says."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = c.compress(data) + c.flush()
    parts = [(param, base64.b64encode(deflated).decode("ascii"))]
    if relay_state is not None:
        parts.append(("RelayState", relay_state))
    query = urllib.parse.urlencode(parts)
    if key_path:
        query += "&" + urllib.parse.urlencode([("SigAlg", RSA_SHA256)])
        sig = procs.run(["/usr/bin/openssl", "dgst", "-sha256", "-sign", key_path],
                        input=query.encode("ascii")).stdout
        query += "&" + urllib.parse.urlencode([("Signature", base64.b64encode(sig).decode("ascii"))])
    return endpoint + ("&" if "?" in endpoint else "?") + query


def authn_request(request_id, issuer, destination, acs_url, issue_instant):
    """A minimal AuthnRequest (HTTP-POST response binding) for tests that act as the SP."""
    return ('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID=%s Version="2.0" IssueInstant=%s '
            'Destination=%s AssertionConsumerServiceURL=%s '
            'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
            '<saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>'
            % (quoteattr(request_id), quoteattr(issue_instant), quoteattr(destination),
               quoteattr(acs_url), escape(issuer)))


def soap_logout_request(key_path, issuer, destination, name_id, name_id_format="", session_indexes=(),
                        request_id=None, signed=True):
    """A back-channel LogoutRequest as an IdP posts it (SOAP 1.1 envelope), signed enveloped with
    RSA-SHA256 by xmlsec1 with the IdP's key (key_path). Returns (request ID, envelope bytes)."""
    request_id = request_id or "_bc" + os.urandom(16).hex()
    instant = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    signature = (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        '<ds:Reference URI="#%s"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
        '</ds:SignedInfo><ds:SignatureValue/></ds:Signature>' % request_id) if signed else ""
    fmt = ' Format="%s"' % _esc(name_id_format) if name_id_format else ""
    indexes = "".join("<samlp:SessionIndex>%s</samlp:SessionIndex>" % _esc(i) for i in session_indexes)
    request = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" IssueInstant="%s" '
        'Destination="%s"><saml:Issuer>%s</saml:Issuer>%s<saml:NameID%s>%s</saml:NameID>%s</samlp:LogoutRequest>'
        % (request_id, instant, _esc(destination), _esc(issuer), signature, fmt, _esc(name_id), indexes))
    if signed:
        with tempfile.TemporaryDirectory() as work:
            template = os.path.join(work, "request.xml")
            out = os.path.join(work, "signed.xml")
            with open(template, "w") as f:
                f.write(request)
            procs.run([XMLSEC1, "--sign", "--privkey-pem", key_path, "--id-attr:ID",
                       "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest", "--output", out, template], timeout=30)
            with open(out) as f:
                request = f.read()
        if request.startswith("<?xml"):
            request = request[request.index("?>") + 2:]
    envelope = ('<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope '
                'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>%s'
                '</SOAP-ENV:Body></SOAP-ENV:Envelope>' % request.strip())
    return request_id, envelope.encode("utf-8")


def _esc(text):
    return escape(text, {'"': "&quot;"})
