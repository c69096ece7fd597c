"""The IdP of the test PKI (certs/make-test-pki): the one test/hostile/hostile_cases and
bench/make_responses sign as, with no server behind its URLs. An SP trusting this metadata
accepts what those generators write."""
import os

IDP_ENTITY = "https://idp.test.example/saml2/idp"
IDP_SSO = "https://idp.test.example/sso"
IDP_SLO = "https://idp.test.example/slo"


def _pem_body(path):
    with open(path) as f:
        text = f.read()
    return "".join(l for l in text.splitlines() if l and not l.startswith("-----"))


def metadata(pki_dir):
    """EntityDescriptor XML trusting <pki_dir>/idp-rsa.crt for signing."""
    cert = _pem_body(os.path.join(pki_dir, "idp-rsa.crt"))
    return """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{slo}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
""".format(entity=IDP_ENTITY, cert=cert, slo=IDP_SLO, sso=IDP_SSO)
