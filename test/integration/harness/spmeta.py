"""SP metadata XML for tests that need an SP the IdP trusts (no module required)."""
from xml.sax.saxutils import quoteattr, escape

from . import pki

BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def sp_metadata_xml(entity_id, acs_url, slo_url=None, signing_cert=None, encryption_cert=None,
                    nameid_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                    authn_requests_signed=True):
    """An md:EntityDescriptor for an SP.

    acs_url: AssertionConsumerService (HTTP-POST). slo_url: SingleLogoutService for both the
    Redirect and POST bindings (optional). signing_cert / encryption_cert: PEM paths or PEM text.
    """
    keys = []
    for use, cert in (("signing", signing_cert), ("encryption", encryption_cert)):
        if cert:
            keys.append(
                '    <md:KeyDescriptor use="%s"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s'
                '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n'
                % (use, pki.pem_body(cert)))
    slo = ""
    if slo_url:
        for b in (BINDING_REDIRECT, BINDING_POST):
            slo += '    <md:SingleLogoutService Binding=%s Location=%s/>\n' % (quoteattr(b), quoteattr(slo_url))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID=%s>\n'
        '  <md:SPSSODescriptor AuthnRequestsSigned="%s" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        '%s%s'
        '    <md:NameIDFormat>%s</md:NameIDFormat>\n'
        '    <md:AssertionConsumerService Binding=%s Location=%s index="0" isDefault="true"/>\n'
        '  </md:SPSSODescriptor>\n'
        '</md:EntityDescriptor>\n'
        % (quoteattr(entity_id), "true" if authn_requests_signed else "false", "".join(keys), slo,
           escape(nameid_format), quoteattr(BINDING_POST), quoteattr(acs_url)))
