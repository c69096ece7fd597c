// IdP metadata: the shapes real IdPs publish, aggregates, validity, signed metadata and hostile input.
// Each fixture is written here, in the layout its product uses, with the test PKI's certificate
// put in at {{CERT}} (and {{CERT2}} for a second, rollover or encryption, certificate).
#include "metadata.hpp"
#include "settings.hpp"
#include "test_support.hpp"
#include "xmlsig.hpp"

#include <CppUTest/TestHarness.h>

#include <string>

using namespace saml;

namespace {

// ---- Fixtures, one per product, in the shape each publishes ------------------------------------

// AWS IAM Identity Center: one entity, ds prefix declared on KeyInfo, SSO and SLO in both bindings.
const char* const aws_identity_center = R"XML(<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/MTIzNDU2Nzg5MDEyX2lucy0wMDAx"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{{CERT}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://portal.sso.eu-west-1.amazonaws.com/saml/logout/MTIzNDU2Nzg5MDEyX2lucy0wMDAx"/><md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://portal.sso.eu-west-1.amazonaws.com/saml/logout/MTIzNDU2Nzg5MDEyX2lucy0wMDAx"/><md:NameIDFormat/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/MTIzNDU2Nzg5MDEyX2lucy0wMDAx"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/MTIzNDU2Nzg5MDEyX2lucy0wMDAx"/></md:IDPSSODescriptor></md:EntityDescriptor>)XML";

// Okta: per-app entity, NameIDFormats listed before the SSO endpoints.
const char* const okta = R"XML(<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor entityID="http://www.okta.com/exk8q2w3e4r5t6y7u8i9" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{{CERT}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://example.okta.com/app/example_httpd_1/exk8q2w3e4r5t6y7u8i9/sso/saml"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://example.okta.com/app/example_httpd_1/exk8q2w3e4r5t6y7u8i9/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>)XML";

// Microsoft Entra ID: default namespaces, an ID and a (here not verified) Signature on the root,
// WS-Federation RoleDescriptors before the IDPSSODescriptor, the current and next signing certs.
const char* const entra_id = R"XML(<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_4f1c2e36-8a4b-4d1e-9b7a-0c9d2e3f4a5b" entityID="https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#" /><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" /><Reference URI="#_4f1c2e36-8a4b-4d1e-9b7a-0c9d2e3f4a5b"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature" /><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#" /></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256" /><DigestValue>AAAA</DigestValue></Reference></SignedInfo><SignatureValue>AAAA</SignatureValue><KeyInfo><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></Signature><RoleDescriptor xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><fed:ClaimTypesOffered><auth:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name" xmlns:auth="http://docs.oasis-open.org/wsfed/authorization/200706"><auth:DisplayName>Name</auth:DisplayName></auth:ClaimType></fed:ClaimTypesOffered><fed:PassiveRequestorEndpoint><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/wsfed</wsa:Address></wsa:EndpointReference></fed:PassiveRequestorEndpoint></RoleDescriptor><RoleDescriptor xsi:type="fed:ApplicationServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor></RoleDescriptor><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT2}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2" /><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2" /><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2" /></IDPSSODescriptor></EntityDescriptor>)XML";

// ADFS: WS-Federation RoleDescriptors, an SPSSODescriptor beside the IDPSSODescriptor, and
// separate encryption ({{CERT2}}) and signing ({{CERT}}) keys.
const char* const adfs = R"XML(<?xml version="1.0" encoding="utf-8"?>
<EntityDescriptor ID="_a1b2c3d4-0000-4000-8000-000000000001" entityID="http://adfs.corp.example.com/adfs/services/trust" xmlns="urn:oasis:names:tc:SAML:2.0:metadata">
  <RoleDescriptor xsi:type="fed:ApplicationServiceType" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" protocolSupportEnumeration="http://docs.oasis-open.org/ws-sx/ws-trust/200512 http://schemas.xmlsoap.org/ws/2005/02/trust http://docs.oasis-open.org/wsfed/federation/200706" ServiceDisplayName="Corp ADFS">
    <KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT2}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <fed:TargetScopes><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://adfs.corp.example.com/adfs/services/trust/13/issuedtokenmixedasymmetricbasic256</wsa:Address></wsa:EndpointReference></fed:TargetScopes>
    <fed:PassiveRequestorEndpoint><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>https://adfs.corp.example.com/adfs/ls/</wsa:Address></wsa:EndpointReference></fed:PassiveRequestorEndpoint>
  </RoleDescriptor>
  <RoleDescriptor xsi:type="fed:SecurityTokenServiceType" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" protocolSupportEnumeration="http://docs.oasis-open.org/ws-sx/ws-trust/200512 http://schemas.xmlsoap.org/ws/2005/02/trust http://docs.oasis-open.org/wsfed/federation/200706" ServiceDisplayName="Corp ADFS">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <fed:TokenTypesOffered><fed:TokenType Uri="urn:oasis:names:tc:SAML:2.0:assertion" /></fed:TokenTypesOffered>
    <fed:ClaimTypesOffered><auth:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn" Optional="true" xmlns:auth="http://docs.oasis-open.org/wsfed/authorization/200706"><auth:DisplayName>UPN</auth:DisplayName></auth:ClaimType></fed:ClaimTypesOffered>
  </RoleDescriptor>
  <SPSSODescriptor WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT2}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.corp.example.com/adfs/ls/" />
    <NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</NameIDFormat>
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://adfs.corp.example.com/adfs/ls/" index="0" isDefault="true" />
  </SPSSODescriptor>
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT2}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{{CERT}}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.corp.example.com/adfs/ls/" />
    <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://adfs.corp.example.com/adfs/ls/" />
    <NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</NameIDFormat>
    <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat>
    <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.corp.example.com/adfs/ls/" />
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://adfs.corp.example.com/adfs/ls/" />
    <Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" FriendlyName="UPN" xmlns="urn:oasis:names:tc:SAML:2.0:assertion" />
  </IDPSSODescriptor>
</EntityDescriptor>)XML";

// Keycloak (the realm descriptor's older form): an EntitiesDescriptor wrapping one realm, a
// KeyName beside the X509Data, artifact resolution, and SSO/SLO in four bindings.
const char* const keycloak = R"XML(<md:EntitiesDescriptor Name="urn:keycloak" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
	<md:EntityDescriptor entityID="https://keycloak.example.com/realms/staff">
		<md:IDPSSODescriptor WantAuthnRequestsSigned="true"
			protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
			<md:KeyDescriptor use="signing">
				<ds:KeyInfo>
					<ds:KeyName>l2P0kXu7M4q9NnX_sQWcN5c1yFvE6a0Z1jS3pR8tUoI</ds:KeyName>
					<ds:X509Data>
						<ds:X509Certificate>{{CERT}}</ds:X509Certificate>
					</ds:X509Data>
				</ds:KeyInfo>
			</md:KeyDescriptor>
			<md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://keycloak.example.com/realms/staff/protocol/saml/resolve" index="0"></md:ArtifactResolutionService>
			<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
			<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
			<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
			<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
			<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
			<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://keycloak.example.com/realms/staff/protocol/saml"/>
		</md:IDPSSODescriptor>
	</md:EntityDescriptor>
</md:EntitiesDescriptor>)XML";

// Shibboleth IdP: SAML 1 and SAML 2 mixed in one role, shibmd:Scope and mdui in Extensions,
// a use-less KeyDescriptor for the back-channel cert ({{CERT2}}), base64 wrapped over lines,
// and an AttributeAuthorityDescriptor after the IdP role.
const char* const shibboleth = R"XML(<?xml version="1.0" encoding="UTF-8"?>
<!--
     This is example metadata only. Do *NOT* supply it as is without review,
     and do *NOT* provide it in real time to your partners.
  -->
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" xmlns:xml="http://www.w3.org/XML/1998/namespace" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" entityID="https://idp.uni.example.org/idp/shibboleth">

    <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol urn:mace:shibboleth:1.0">

        <Extensions>
            <shibmd:Scope regexp="false">uni.example.org</shibmd:Scope>
            <mdui:UIInfo>
                <mdui:DisplayName xml:lang="en">Example University</mdui:DisplayName>
                <mdui:Description xml:lang="en">Login service of Example University</mdui:Description>
                <mdui:Logo height="80" width="80">https://idp.uni.example.org/logo.png</mdui:Logo>
            </mdui:UIInfo>
        </Extensions>

        <KeyDescriptor>
            <ds:KeyInfo>
                    <ds:X509Certificate>not part of X509Data, ignored</ds:X509Certificate>
                    <ds:X509Data>
                        <ds:X509Certificate>
{{CERT2}}
                        </ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>
        </KeyDescriptor>
        <KeyDescriptor use="signing">
            <ds:KeyInfo>
                    <ds:X509Data>
                        <ds:X509Certificate>
{{CERT}}
                        </ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>
        </KeyDescriptor>
        <KeyDescriptor use="encryption">
            <ds:KeyInfo>
                    <ds:X509Data>
                        <ds:X509Certificate>
{{CERT}}
                        </ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>
        </KeyDescriptor>

        <ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" Location="https://idp.uni.example.org:8443/idp/profile/SAML1/SOAP/ArtifactResolution" index="1"/>
        <ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://idp.uni.example.org:8443/idp/profile/SAML2/SOAP/ArtifactResolution" index="2"/>

        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.uni.example.org/idp/profile/SAML2/Redirect/SLO"/>
        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.uni.example.org/idp/profile/SAML2/POST/SLO"/>
        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign" Location="https://idp.uni.example.org/idp/profile/SAML2/POST-SimpleSign/SLO"/>
        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://idp.uni.example.org:8443/idp/profile/SAML2/SOAP/SLO"/>

        <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>
        <NameIDFormat>
            urn:oasis:names:tc:SAML:2.0:nameid-format:persistent
        </NameIDFormat>

        <SingleSignOnService Binding="urn:mace:shibboleth:1.0:profiles:AuthnRequest" Location="https://idp.uni.example.org/idp/profile/Shibboleth/SSO"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.uni.example.org/idp/profile/SAML2/POST/SSO"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign" Location="https://idp.uni.example.org/idp/profile/SAML2/POST-SimpleSign/SSO"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.uni.example.org/idp/profile/SAML2/Redirect/SSO"/>

    </IDPSSODescriptor>

    <AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol urn:oasis:names:tc:SAML:2.0:protocol">
        <Extensions>
            <shibmd:Scope regexp="false">uni.example.org</shibmd:Scope>
        </Extensions>
        <KeyDescriptor>
            <ds:KeyInfo>
                    <ds:X509Data>
                        <ds:X509Certificate>
{{CERT2}}
                        </ds:X509Certificate>
                    </ds:X509Data>
            </ds:KeyInfo>
        </KeyDescriptor>
        <AttributeService Binding="urn:oasis:names:tc:SAML:1.0:bindings:SOAP-binding" Location="https://idp.uni.example.org:8443/idp/profile/SAML1/SOAP/AttributeQuery"/>
        <AttributeService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://idp.uni.example.org:8443/idp/profile/SAML2/SOAP/AttributeQuery"/>
    </AttributeAuthorityDescriptor>

</EntityDescriptor>
)XML";

// SimpleSAMLphp 1.19 (saml2/idp/metadata.php): the same cert twice (signing and encryption),
// validity and cacheDuration on the entity, a ContactPerson after the role.
const char* const simplesamlphp = R"XML(<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" validUntil="2026-06-08T12:00:00Z" cacheDuration="PT6H" entityID="https://idp.example.net/simplesaml/saml2/idp/metadata.php">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data>
          <ds:X509Certificate>{{CERT}}</ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data>
          <ds:X509Certificate>{{CERT}}</ds:X509Certificate>
        </ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.net/simplesaml/saml2/idp/SingleLogoutService.php"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.net/simplesaml/saml2/idp/SSOService.php"/>
  </md:IDPSSODescriptor>
  <md:ContactPerson contactType="technical">
    <md:GivenName>Ops</md:GivenName>
    <md:EmailAddress>mailto:ops@example.net</md:EmailAddress>
  </md:ContactPerson>
</md:EntityDescriptor>)XML";

// A minimal IdP for the structural and hostile cases; {{ENTITY}}, {{ROLE_ATTRS}}, {{KEYS}}
// and {{SSO}} can be changed one at a time.
const char* const minimal_entity = R"XML(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" {{ENTITY_ATTRS}}><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" {{ROLE_ATTRS}}>{{KEYS}}{{SSO}}</md:IDPSSODescriptor></md:EntityDescriptor>)XML";

const char* const signing_key_descriptor = R"XML(<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{CERT}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)XML";
const char* const redirect_sso = R"XML(<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>)XML";

// ---- Helpers -------------------------------------------------------------------------------------

std::string with_certs(std::string text, const std::string& cert = "idp-rsa", const std::string& cert2 = "idp-rsa-next") {
    text = test::fill(std::move(text), "CERT", test::pki_cert_base64(cert));
    return test::fill(std::move(text), "CERT2", test::pki_cert_base64(cert2));
}

// Base64 wrapped at 64 columns, as PEM and many metadata files have it.
std::string wrapped(const std::string& base64) {
    std::string out;
    for (std::size_t i = 0; i < base64.size(); i += 64) out += base64.substr(i, 64) + "\n";
    return out;
}

std::string entity(const std::string& entity_attrs = "entityID=\"https://idp.example.org\"",
                   const std::string& role_attrs = "", const std::string& keys = signing_key_descriptor,
                   const std::string& sso = redirect_sso) {
    std::string text = test::fill(minimal_entity, "ENTITY_ATTRS", entity_attrs);
    text = test::fill(text, "ROLE_ATTRS", role_attrs);
    text = test::fill(text, "KEYS", keys);
    text = test::fill(text, "SSO", sso);
    return with_certs(text);
}

// The same entity without its XML namespace declarations, for nesting in an aggregate.
std::string aggregate(const std::string& attrs, const std::string& body) {
    return "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
           "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" " +
           attrs + ">" + body + "</md:EntitiesDescriptor>";
}

MetadataOptions test_options() {
    MetadataOptions options;
    options.now = test::test_now();
    return options;
}

LoadedMetadata load(const std::string& xml, const MetadataOptions& options = test_options()) {
    auto result = parse_idp_metadata(xml, options);
    if (!result) FAIL(result.error().message().c_str());
    return result.value();
}

Error load_error(const std::string& xml, const MetadataOptions& options = test_options()) {
    auto result = parse_idp_metadata(xml, options);
    CHECK_FALSE(result.ok());
    return result ? Error{} : result.error();
}

std::shared_ptr<const IdpDescriptor> only_idp(const LoadedMetadata& loaded) {
    LONGS_EQUAL(1, loaded.idps.size());
    return loaded.idps.front();
}

bool is_cert(const TrustedCertificate& trusted, const std::string& name) {
    return X509_cmp(trusted.certificate.get(), test::pki_cert(name).get()) == 0;
}

void check_endpoint(const Endpoint* endpoint, const char* binding, const char* location) {
    CHECK(endpoint != nullptr);
    STRCMP_EQUAL(binding, endpoint->binding.c_str());
    STRCMP_EQUAL(location, endpoint->location.c_str());
}

// Signs the document's root with an enveloped signature and returns the serialised result.
std::string signed_document(const std::string& xml, const std::string& signer) {
    XmlDoc doc = parse_xml(xml, XmlLimits{64 * 1024 * 1024, 64}, "fixture");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    auto key = test::pki_key(signer);
    sign_enveloped(root, nullptr, key.get(), test::pki_cert(signer).get(),
                   *find_signature_algorithm(default_signature_algorithm(key.get())));
    return serialize(root);
}

}  // namespace

// ---- Product shapes --------------------------------------------------------------------------------

TEST_GROUP(IdpMetadataShapes){};

TEST(IdpMetadataShapes, AwsIamIdentityCenter) {
    auto idp = only_idp(load(with_certs(aws_identity_center)));
    STRCMP_EQUAL("https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/MTIzNDU2Nzg5MDEyX2lucy0wMDAx",
                 idp->entity_id.c_str());
    LONGS_EQUAL(2, idp->single_sign_on.size());
    check_endpoint(idp->find_endpoint(idp->single_sign_on, binding::redirect), binding::redirect,
                   "https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/MTIzNDU2Nzg5MDEyX2lucy0wMDAx");
    check_endpoint(idp->find_endpoint(idp->single_logout, binding::post), binding::post,
                   "https://portal.sso.eu-west-1.amazonaws.com/saml/logout/MTIzNDU2Nzg5MDEyX2lucy0wMDAx");
    LONGS_EQUAL(1, idp->signing.size());
    CHECK(is_cert(idp->signing[0], "idp-rsa"));
    CHECK(idp->encryption.empty());
    CHECK(idp->name_id_formats.empty());  // the empty <md:NameIDFormat/> says nothing
    CHECK_FALSE(idp->want_authn_requests_signed);
    CHECK_FALSE(idp->valid_until.has_value());
}

TEST(IdpMetadataShapes, Okta) {
    auto idp = only_idp(load(with_certs(okta)));
    STRCMP_EQUAL("http://www.okta.com/exk8q2w3e4r5t6y7u8i9", idp->entity_id.c_str());
    check_endpoint(idp->find_endpoint(idp->single_sign_on, binding::post), binding::post,
                   "https://example.okta.com/app/example_httpd_1/exk8q2w3e4r5t6y7u8i9/sso/saml");
    CHECK(idp->single_logout.empty());
    LONGS_EQUAL(2, idp->name_id_formats.size());
    STRCMP_EQUAL(nameid_format::unspecified, idp->name_id_formats[0].c_str());
    STRCMP_EQUAL(nameid_format::email, idp->name_id_formats[1].c_str());
    LONGS_EQUAL(1, idp->signing_keys().size());
    CHECK(idp->signing_keys()[0] == idp->signing[0].public_key.get());
}

TEST(IdpMetadataShapes, EntraIdReadsOnlyTheIdpRoleAndBothRolloverCerts) {
    auto idp = only_idp(load(with_certs(entra_id)));
    STRCMP_EQUAL("https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/", idp->entity_id.c_str());
    LONGS_EQUAL(2, idp->signing.size());
    CHECK(is_cert(idp->signing[0], "idp-rsa"));
    CHECK(is_cert(idp->signing[1], "idp-rsa-next"));
    LONGS_EQUAL(2, idp->signing_keys().size());
    check_endpoint(idp->find_endpoint(idp->single_sign_on, binding::post), binding::post,
                   "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2");
    check_endpoint(idp->find_endpoint(idp->single_logout, binding::redirect), binding::redirect,
                   "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2");
    CHECK(idp->find_endpoint(idp->single_logout, binding::post) == nullptr);
}

TEST(IdpMetadataShapes, AdfsSeparatesSigningAndEncryptionAndIgnoresItsSpRole) {
    auto loaded = load(with_certs(adfs));
    auto idp = only_idp(loaded);
    STRCMP_EQUAL("http://adfs.corp.example.com/adfs/services/trust", idp->entity_id.c_str());
    LONGS_EQUAL(1, idp->signing.size());
    CHECK(is_cert(idp->signing[0], "idp-rsa"));
    LONGS_EQUAL(1, idp->encryption.size());
    CHECK(is_cert(idp->encryption[0], "idp-rsa-next"));
    LONGS_EQUAL(2, idp->single_sign_on.size());
    LONGS_EQUAL(2, idp->single_logout.size());
    LONGS_EQUAL(3, idp->name_id_formats.size());
    STRCMP_EQUAL(nameid_format::transient, idp->name_id_formats[2].c_str());
    CHECK(loaded.warnings.empty());
}

TEST(IdpMetadataShapes, KeycloakInsideAnEntitiesDescriptor) {
    auto idp = only_idp(load(with_certs(keycloak)));
    STRCMP_EQUAL("https://keycloak.example.com/realms/staff", idp->entity_id.c_str());
    CHECK(idp->want_authn_requests_signed);
    LONGS_EQUAL(4, idp->single_sign_on.size());
    LONGS_EQUAL(4, idp->single_logout.size());
    LONGS_EQUAL(1, idp->artifact_resolution.size());
    LONGS_EQUAL(0, idp->artifact_resolution[0].index);
    CHECK_FALSE(idp->artifact_resolution[0].is_default);
    check_endpoint(idp->find_endpoint(idp->artifact_resolution, binding::soap), binding::soap,
                   "https://keycloak.example.com/realms/staff/protocol/saml/resolve");
    LONGS_EQUAL(4, idp->name_id_formats.size());
    LONGS_EQUAL(1, idp->signing.size());
}

TEST(IdpMetadataShapes, ShibbolethIdpWithMixedProtocolsAndWrappedBase64) {
    std::string xml = test::fill(shibboleth, "CERT", wrapped(test::pki_cert_base64("idp-rsa")));
    xml = test::fill(xml, "CERT2", wrapped(test::pki_cert_base64("idp-rsa-next")));
    auto idp = only_idp(load(xml));
    STRCMP_EQUAL("https://idp.uni.example.org/idp/shibboleth", idp->entity_id.c_str());
    // The use-less KeyDescriptor serves both purposes; the stray X509Certificate outside
    // X509Data is not a key.
    LONGS_EQUAL(2, idp->signing.size());
    CHECK(is_cert(idp->signing[0], "idp-rsa-next"));
    CHECK(is_cert(idp->signing[1], "idp-rsa"));
    LONGS_EQUAL(2, idp->encryption.size());
    LONGS_EQUAL(4, idp->single_sign_on.size());
    check_endpoint(idp->find_endpoint(idp->single_sign_on, binding::redirect), binding::redirect,
                   "https://idp.uni.example.org/idp/profile/SAML2/Redirect/SSO");
    LONGS_EQUAL(2, idp->artifact_resolution.size());
    const Endpoint* soap = idp->find_endpoint(idp->artifact_resolution, binding::soap);
    CHECK(soap != nullptr);
    LONGS_EQUAL(2, soap->index);
    LONGS_EQUAL(2, idp->name_id_formats.size());
    STRCMP_EQUAL(nameid_format::persistent, idp->name_id_formats[1].c_str());  // trimmed
}

TEST(IdpMetadataShapes, SimpleSamlPhpWithValidityAndCacheDuration) {
    auto loaded = load(with_certs(simplesamlphp));
    auto idp = only_idp(loaded);
    STRCMP_EQUAL("https://idp.example.net/simplesaml/saml2/idp/metadata.php", idp->entity_id.c_str());
    LONGS_EQUAL(1, idp->signing.size());
    LONGS_EQUAL(1, idp->encryption.size());
    CHECK(is_cert(idp->signing[0], "idp-rsa"));
    CHECK(is_cert(idp->encryption[0], "idp-rsa"));
    check_endpoint(idp->find_endpoint(idp->single_sign_on, binding::redirect), binding::redirect,
                   "https://idp.example.net/simplesaml/saml2/idp/SSOService.php");
    CHECK(idp->find_endpoint(idp->single_sign_on, binding::post) == nullptr);
    CHECK(idp->valid_until.has_value());
    STRCMP_EQUAL("2026-06-08T12:00:00Z", format_datetime(*idp->valid_until).c_str());
    CHECK(idp->cache_duration.has_value());
    LONGS_EQUAL(6 * 3600, idp->cache_duration->count());
    CHECK(loaded.valid_until.has_value());
    LONGS_EQUAL(6 * 3600, loaded.cache_duration->count());
}

TEST(IdpMetadataShapes, EcdsaCertificate) {
    auto idp = only_idp(load(with_certs(okta, "idp-ec")));
    CHECK(is_cert(idp->signing[0], "idp-ec"));
    LONGS_EQUAL(static_cast<long>(KeyType::Ec), static_cast<long>(key_type(idp->signing_keys()[0])));
}

// ---- Aggregates, validity, structure -------------------------------------------------------------

TEST_GROUP(IdpMetadataRules){};

TEST(IdpMetadataRules, AggregateWithNestedAggregatesAndNonIdpEntities) {
    const std::string sp_entity =
        "<md:EntityDescriptor entityID=\"https://sp.example.org\"><md:SPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"/></md:EntityDescriptor>";
    const std::string saml1_idp =
        "<md:EntityDescriptor entityID=\"https://saml1.example.org\"><md:IDPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:1.1:protocol\">" +
        std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    auto idp_entity = [](const std::string& id) {
        return "<md:EntityDescriptor entityID=\"" + id +
               "\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:1.1:protocol "
               "urn:oasis:names:tc:SAML:2.0:protocol\">" +
               std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    };
    const std::string xml = with_certs(aggregate(
        "Name=\"urn:example:federation\" validUntil=\"2026-07-01T00:00:00Z\" cacheDuration=\"P1D\"",
        sp_entity + idp_entity("https://a.example.org") + saml1_idp +
            "<md:EntitiesDescriptor Name=\"inner\" cacheDuration=\"PT1H\">" + idp_entity("https://b.example.org") +
            "<md:EntitiesDescriptor>" + idp_entity("https://c.example.org") +
            "</md:EntitiesDescriptor></md:EntitiesDescriptor>"));
    auto loaded = load(xml);
    LONGS_EQUAL(3, loaded.idps.size());
    STRCMP_EQUAL("https://a.example.org", loaded.idps[0]->entity_id.c_str());
    STRCMP_EQUAL("https://c.example.org", loaded.idps[2]->entity_id.c_str());
    CHECK(loaded.warnings.empty());
    LONGS_EQUAL(86400, loaded.cache_duration->count());
    LONGS_EQUAL(86400, loaded.idps[0]->cache_duration->count());
    LONGS_EQUAL(3600, loaded.idps[1]->cache_duration->count());  // the nearer, shorter one
    LONGS_EQUAL(3600, loaded.idps[2]->cache_duration->count());
    STRCMP_EQUAL("2026-07-01T00:00:00Z", format_datetime(*loaded.idps[2]->valid_until).c_str());
}

TEST(IdpMetadataRules, ValidUntilIsTheEarliestOnThePath) {
    const std::string body = "<md:EntityDescriptor entityID=\"https://a.example.org\" validUntil=\"2026-06-02T00:00:00Z\">"
                             "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
                             std::string(signing_key_descriptor) + redirect_sso +
                             "</md:IDPSSODescriptor></md:EntityDescriptor>";
    auto later_aggregate = load(with_certs(aggregate("validUntil=\"2027-01-01T00:00:00Z\"", body)));
    STRCMP_EQUAL("2026-06-02T00:00:00Z", format_datetime(*only_idp(later_aggregate)->valid_until).c_str());
    STRCMP_EQUAL("2027-01-01T00:00:00Z", format_datetime(*later_aggregate.valid_until).c_str());
    auto earlier_aggregate = load(with_certs(aggregate("validUntil=\"2026-06-01T18:00:00+02:00\"", body)));
    STRCMP_EQUAL("2026-06-01T16:00:00Z", format_datetime(*only_idp(earlier_aggregate)->valid_until).c_str());
}

TEST(IdpMetadataRules, ExpiredMetadataIsRejectedUnlessAllowed) {
    const std::string xml = entity("entityID=\"https://idp.example.org\" validUntil=\"2026-05-31T12:00:00Z\"");
    Error error = load_error(xml);
    STRCMP_EQUAL("SAML0406", error.code.c_str());
    LONGS_EQUAL(static_cast<long>(ErrorKind::Rejected), static_cast<long>(error.kind));
    MetadataOptions options = test_options();
    options.allow_expired = true;
    STRCMP_EQUAL("https://idp.example.org", only_idp(load(xml, options))->entity_id.c_str());
    // Exactly "now" counts as expired; one second later in the metadata does not.
    STRCMP_EQUAL("SAML0406", load_error(entity("entityID=\"x\" validUntil=\"2026-06-01T12:00:00Z\"")).code.c_str());
    CHECK(parse_idp_metadata(entity("entityID=\"x\" validUntil=\"2026-06-01T12:00:01Z\""), test_options()).ok());
}

TEST(IdpMetadataRules, ExpiredAggregateAndExpiredMemberOfAggregate) {
    const std::string good = "<md:EntityDescriptor entityID=\"https://good.example.org\"><md:IDPSSODescriptor "
                             "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
                             std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    const std::string stale = "<md:EntityDescriptor entityID=\"https://stale.example.org\" validUntil=\"2020-01-01T00:00:00Z\">"
                              "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
                              std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    STRCMP_EQUAL("SAML0406", load_error(with_certs(aggregate("validUntil=\"2026-01-01T00:00:00Z\"", good))).code.c_str());
    auto loaded = load(with_certs(aggregate("", good + stale)));
    STRCMP_EQUAL("https://good.example.org", only_idp(loaded)->entity_id.c_str());
    LONGS_EQUAL(1, loaded.warnings.size());
    STRCMP_EQUAL("SAML0406", loaded.warnings[0].code.c_str());
    CHECK(loaded.warnings[0].message.find("stale.example.org") != std::string::npos);
}

TEST(IdpMetadataRules, BrokenMemberOfAggregateIsSkippedWithAWarning) {
    const std::string good = "<md:EntityDescriptor entityID=\"https://good.example.org\"><md:IDPSSODescriptor "
                             "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
                             std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    const std::string bad_cert = "<md:EntityDescriptor entityID=\"https://bad.example.org\"><md:IDPSSODescriptor "
                                 "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:KeyDescriptor>"
                                 "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>!!notbase64!!</ds:X509Certificate>"
                                 "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>" +
                                 std::string(redirect_sso) + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    auto loaded = load(with_certs(aggregate("", bad_cert + good)));
    STRCMP_EQUAL("https://good.example.org", only_idp(loaded)->entity_id.c_str());
    LONGS_EQUAL(1, loaded.warnings.size());
    STRCMP_EQUAL("SAML0408", loaded.warnings[0].code.c_str());
    // When every member is broken, nothing usable is left: an error naming the first problem.
    Error error = load_error(with_certs(aggregate("", bad_cert)));
    STRCMP_EQUAL("SAML0402", error.code.c_str());
    CHECK(error.detail.find("bad.example.org") != std::string::npos);
}

TEST(IdpMetadataRules, BrokenNestedAggregateAndNamelessMemberAreSkipped) {
    auto member = [](const std::string& attrs) {
        return "<md:EntityDescriptor " + attrs + "><md:IDPSSODescriptor protocolSupportEnumeration=\"" +
               std::string(ns::protocol) + "\">" + signing_key_descriptor + redirect_sso +
               "</md:IDPSSODescriptor></md:EntityDescriptor>";
    };
    const std::string xml = with_certs(aggregate(
        "", member("entityID=\"https://good.example.org\"") + member("") +
                "<md:EntitiesDescriptor cacheDuration=\"soon\">" + member("entityID=\"https://hidden.example.org\"") +
                "</md:EntitiesDescriptor>"));
    auto loaded = load(xml);
    STRCMP_EQUAL("https://good.example.org", only_idp(loaded)->entity_id.c_str());
    LONGS_EQUAL(2, loaded.warnings.size());
    STRCMP_EQUAL("SAML0403", loaded.warnings[0].code.c_str());
    STRCMP_EQUAL("SAML0404", loaded.warnings[1].code.c_str());
}

TEST(IdpMetadataRules, DuplicateEntityIdsAreRejected) {
    const std::string member = "<md:EntityDescriptor entityID=\"https://twice.example.org\"><md:IDPSSODescriptor "
                               "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
                               std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    Error error = load_error(with_certs(aggregate("", member + "<md:EntitiesDescriptor>" + member + "</md:EntitiesDescriptor>")));
    STRCMP_EQUAL("SAML0407", error.code.c_str());
    LONGS_EQUAL(static_cast<long>(ErrorKind::Rejected), static_cast<long>(error.kind));
}

TEST(IdpMetadataRules, ExpiredCertificateIsTrustedWithAWarning) {
    auto loaded = load(with_certs(okta, "expired"));
    auto idp = only_idp(loaded);
    CHECK(is_cert(idp->signing[0], "expired"));
    LONGS_EQUAL(1, loaded.warnings.size());
    STRCMP_EQUAL("SAML0405", loaded.warnings[0].code.c_str());
    CHECK(loaded.warnings[0].message.find("okta.com") != std::string::npos);
    CHECK(load(with_certs(okta)).warnings.empty());
}

TEST(IdpMetadataRules, KeyUseAndDuplicates) {
    const std::string both = "<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{CERT}}"
                             "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
    auto idp = only_idp(load(entity("entityID=\"x\"", "", both + signing_key_descriptor)));
    LONGS_EQUAL(1, idp->signing.size());  // the same cert twice is one key
    LONGS_EQUAL(1, idp->encryption.size());

    const std::string encryption_only = "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data>"
                                        "<ds:X509Certificate>{{CERT}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
                                        "</md:KeyDescriptor>";
    STRCMP_EQUAL("SAML0409", load_error(entity("entityID=\"x\"", "", encryption_only)).code.c_str());
    STRCMP_EQUAL("SAML0409", load_error(entity("entityID=\"x\"", "", "")).code.c_str());
    const std::string odd_use = "<md:KeyDescriptor use=\"both\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{CERT}}"
                                "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
    STRCMP_EQUAL("SAML0419", load_error(entity("entityID=\"x\"", "", odd_use)).code.c_str());
    STRCMP_EQUAL("SAML0419", load_error(entity("entityID=\"x\"", "", "<md:KeyDescriptor/>")).code.c_str());
}

TEST(IdpMetadataRules, WantAuthnRequestsSignedIsAStrictBoolean) {
    CHECK(only_idp(load(entity("entityID=\"x\"", "WantAuthnRequestsSigned=\"1\"")))->want_authn_requests_signed);
    CHECK_FALSE(only_idp(load(entity("entityID=\"x\"", "WantAuthnRequestsSigned=\"false\"")))->want_authn_requests_signed);
    STRCMP_EQUAL("SAML0417", load_error(entity("entityID=\"x\"", "WantAuthnRequestsSigned=\"yes\"")).code.c_str());
}

TEST(IdpMetadataRules, EndpointsNeedBindingLocationAndAValidIndex) {
    STRCMP_EQUAL("SAML0414", load_error(entity("entityID=\"x\"", "", signing_key_descriptor, "")).code.c_str());
    STRCMP_EQUAL("SAML0415", load_error(entity("entityID=\"x\"", "", signing_key_descriptor,
                                               "<md:SingleSignOnService Binding=\"urn:b\"/>"))
                                 .code.c_str());
    const std::string ars = std::string(redirect_sso) +
                            "<md:ArtifactResolutionService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" "
                            "Location=\"https://idp.example.org/ars\" index=\"{{INDEX}}\"/>";
    STRCMP_EQUAL("SAML0416", load_error(entity("entityID=\"x\"", "", signing_key_descriptor,
                                               test::fill(ars, "INDEX", "-1"))).code.c_str());
    STRCMP_EQUAL("SAML0416", load_error(entity("entityID=\"x\"", "", signing_key_descriptor,
                                               test::fill(ars, "INDEX", "65536"))).code.c_str());
    auto idp = only_idp(load(entity("entityID=\"x\"", "", signing_key_descriptor, test::fill(ars, "INDEX", "65535"))));
    LONGS_EQUAL(65535, idp->artifact_resolution[0].index);
}

TEST(IdpMetadataRules, FindEndpointPrefersTheDefaultIndexedEndpoint) {
    IdpDescriptor idp;
    idp.artifact_resolution = {{binding::soap, "https://a/1", "", 1, false},
                               {binding::post, "https://a/2", "", 2, true},
                               {binding::soap, "https://a/3", "", 3, true},
                               {binding::soap, "https://a/4", "", 4, false}};
    STRCMP_EQUAL("https://a/3", idp.find_endpoint(idp.artifact_resolution, binding::soap)->location.c_str());
    idp.artifact_resolution[2].is_default = false;
    STRCMP_EQUAL("https://a/1", idp.find_endpoint(idp.artifact_resolution, binding::soap)->location.c_str());
    CHECK(idp.find_endpoint(idp.artifact_resolution, binding::redirect) == nullptr);
    CHECK(idp.find_endpoint({}, binding::soap) == nullptr);
}

TEST(IdpMetadataRules, ResponseLocationIsKept) {
    auto idp = only_idp(load(entity("entityID=\"x\"", "", signing_key_descriptor,
                                    std::string(redirect_sso) +
                                        "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" "
                                        "Location=\"https://idp/slo\" ResponseLocation=\"https://idp/slo-response\"/>")));
    STRCMP_EQUAL("https://idp/slo-response", idp->single_logout[0].response_location.c_str());
    STRCMP_EQUAL("", idp->single_sign_on[0].response_location.c_str());
}

// ---- Hostile and malformed input -----------------------------------------------------------------

TEST_GROUP(IdpMetadataHostile){};

TEST(IdpMetadataHostile, DoctypeIsRefused) {
    const std::string xml = "<!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>" + entity();
    STRCMP_EQUAL("SAML0103", load_error(xml).code.c_str());
}

TEST(IdpMetadataHostile, MalformedEmptyAndWrongRoot) {
    STRCMP_EQUAL("SAML0104", load_error(entity().substr(0, 200)).code.c_str());
    STRCMP_EQUAL("SAML0101", load_error("").code.c_str());
    Error wrong_root = load_error("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>");
    STRCMP_EQUAL("SAML0401", wrong_root.code.c_str());
    // The right local name in the wrong namespace is not metadata either.
    STRCMP_EQUAL("SAML0401", load_error("<EntityDescriptor entityID=\"x\"/>").code.c_str());
}

TEST(IdpMetadataHostile, NoIdpRole) {
    const std::string sp_only = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
                                "entityID=\"https://sp.example.org\"><md:SPSSODescriptor "
                                "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"/></md:EntityDescriptor>";
    STRCMP_EQUAL("SAML0402", load_error(sp_only).code.c_str());
    // A protocol list that merely starts with the SAML 2.0 URI does not name it.
    const std::string suffix = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">"
                               "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocolX\">"
                               "</md:IDPSSODescriptor></md:EntityDescriptor>";
    STRCMP_EQUAL("SAML0402", load_error(suffix).code.c_str());
}

TEST(IdpMetadataHostile, BadCertificateInTheOnlyEntity) {
    const std::string keys = "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"
                             "{{BODY}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
    const std::string cert = test::pki_cert_base64("idp-rsa");
    for (const std::string& body : {std::string("not*base64"), cert.substr(0, cert.size() - 8),
                                    std::string("AAAA"), std::string(), cert + "<!-- c -->AAAA"}) {
        Error error = load_error(entity("entityID=\"x\"", "", test::fill(keys, "BODY", body)));
        STRCMP_EQUAL("SAML0408", error.code.c_str());
        LONGS_EQUAL(static_cast<long>(ErrorKind::BadInput), static_cast<long>(error.kind));
    }
    // Markup inside the certificate text is refused, not skipped.
    Error markup = load_error(entity("entityID=\"x\"", "", test::fill(keys, "BODY", cert + "<x/>")));
    STRCMP_EQUAL("SAML0408", markup.code.c_str());
    CHECK(markup.detail.find("markup") != std::string::npos);
}

TEST(IdpMetadataHostile, EntityIdMissingOrTooLong) {
    STRCMP_EQUAL("SAML0403", load_error(entity("")).code.c_str());
    STRCMP_EQUAL("SAML0403", load_error(entity("entityID=\"  \"")).code.c_str());
    STRCMP_EQUAL("SAML0403", load_error(entity("entityID=\"https://" + std::string(1100, 'a') + "\"")).code.c_str());
}

TEST(IdpMetadataHostile, SeveralSaml2IdpRolesAreAmbiguous) {
    const std::string role = "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
                             std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor>";
    const std::string xml = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
                            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"x\">" +
                            role + role + "</md:EntityDescriptor>";
    STRCMP_EQUAL("SAML0418", load_error(with_certs(xml)).code.c_str());
}

TEST(IdpMetadataHostile, BadValidityAttributes) {
    STRCMP_EQUAL("SAML0404", load_error(entity("entityID=\"x\" cacheDuration=\"6 hours\"")).code.c_str());
    CHECK(load_error(entity("entityID=\"x\" validUntil=\"tomorrow\"")).kind == ErrorKind::BadInput);
}

TEST(IdpMetadataHostile, HugeDocumentsStopAtTheSizeLimit) {
    MetadataOptions options = test_options();
    options.limits.max_bytes = 64 * 1024;
    std::string padding;
    for (int i = 0; i < 2000; ++i) padding += "<md:NameIDFormat>urn:padding:" + std::to_string(i) + "</md:NameIDFormat>";
    const std::string xml = entity("entityID=\"x\"", "", std::string(signing_key_descriptor) + padding);
    STRCMP_EQUAL("SAML0102", load_error(xml, options).code.c_str());
    CHECK(parse_idp_metadata(xml, test_options()).ok());
}

TEST(IdpMetadataHostile, TenThousandEntityAggregateLoads) {
    // Built once with the same certificate; loading must stay linear (index by entityID).
    const std::string cert = test::pki_cert_base64("idp-rsa");
    std::string body;
    body.reserve(10000 * (cert.size() + 600));
    for (int i = 0; i < 10000; ++i) {
        const std::string id = "https://idp" + std::to_string(i) + ".federation.example.org/idp";
        body += "<md:EntityDescriptor entityID=\"" + id +
                "\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" +
                cert +
                "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
                "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"" +
                id + "/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>";
    }
    auto loaded = load(aggregate("Name=\"urn:big\"", body));
    LONGS_EQUAL(10000, loaded.idps.size());
    IdpRegistry registry;
    for (const auto& idp : loaded.idps) registry.add(idp);
    LONGS_EQUAL(10000, registry.size());
    auto found = registry.find("https://idp9876.federation.example.org/idp");
    CHECK(found != nullptr);
    STRCMP_EQUAL("https://idp9876.federation.example.org/idp/sso", found->single_sign_on[0].location.c_str());
}

// ---- Signed metadata -------------------------------------------------------------------------------

TEST_GROUP(IdpMetadataSignature){};

TEST(IdpMetadataSignature, SignedEntityVerifies) {
    const std::string xml = signed_document(entity("ID=\"_md1\" entityID=\"https://idp.example.org\""), "idp-rsa-next");
    MetadataOptions options = test_options();
    options.signing_certificates = {test::pki_cert("attacker"), test::pki_cert("idp-rsa-next")};
    STRCMP_EQUAL("https://idp.example.org", only_idp(load(xml, options))->entity_id.c_str());
}

TEST(IdpMetadataSignature, SignedAggregateVerifiesWithAnEcKey) {
    const std::string xml = signed_document(with_certs(aggregate("ID=\"_federation\"", R"XML(<md:EntityDescriptor entityID="https://a.example.org"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)XML" + std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>")), "idp-ec");
    MetadataOptions options = test_options();
    options.signing_certificates = {test::pki_cert("idp-ec")};
    STRCMP_EQUAL("https://a.example.org", only_idp(load(xml, options))->entity_id.c_str());
}

TEST(IdpMetadataSignature, TamperedMetadataIsRejected) {
    std::string xml = signed_document(entity("ID=\"_md1\" entityID=\"https://idp.example.org\""), "idp-rsa-next");
    const std::string original = "https://idp.example.org/sso";
    const std::size_t at = xml.find(original);
    CHECK(at != std::string::npos);
    xml.replace(at, original.size(), "https://evil.example.org/sso");
    MetadataOptions options = test_options();
    options.signing_certificates = {test::pki_cert("idp-rsa-next")};
    Error error = load_error(xml, options);
    STRCMP_EQUAL("SAML0411", error.code.c_str());
    LONGS_EQUAL(static_cast<long>(ErrorKind::Rejected), static_cast<long>(error.kind));
    // Unchecked, the same document loads: the check is what refuses it.
    CHECK(parse_idp_metadata(xml, test_options()).ok());
}

TEST(IdpMetadataSignature, WrongSignerIsRejected) {
    const std::string xml = signed_document(entity("ID=\"_md1\" entityID=\"https://idp.example.org\""), "attacker");
    MetadataOptions options = test_options();
    options.signing_certificates = {test::pki_cert("idp-rsa-next")};
    STRCMP_EQUAL("SAML0411", load_error(xml, options).code.c_str());
}

TEST(IdpMetadataSignature, UnsignedWhenRequiredIsRejected) {
    MetadataOptions options = test_options();
    options.signing_certificates = {test::pki_cert("idp-rsa-next")};
    Error error = load_error(entity("ID=\"_md1\" entityID=\"https://idp.example.org\""), options);
    STRCMP_EQUAL("SAML0410", error.code.c_str());
    LONGS_EQUAL(static_cast<long>(ErrorKind::Rejected), static_cast<long>(error.kind));
}

TEST(IdpMetadataSignature, OnlyTheRootSignatureCounts) {
    // A signed entity inside an unsigned aggregate does not make the aggregate signed.
    const std::string signed_entity = signed_document(entity("ID=\"_inner\" entityID=\"https://idp.example.org\""), "idp-rsa-next");
    MetadataOptions options = test_options();
    options.signing_certificates = {test::pki_cert("idp-rsa-next")};
    STRCMP_EQUAL("SAML0410", load_error(aggregate("ID=\"_outer\"", signed_entity), options).code.c_str());
    // Alone, the same signed entity verifies.
    CHECK(parse_idp_metadata(signed_entity, options).ok());
}

// ---- Registry and xs:duration --------------------------------------------------------------------

TEST_GROUP(IdpRegistry){};

TEST(IdpRegistry, FindAddReplaceAndList) {
    IdpRegistry registry;
    CHECK(registry.find("https://a") == nullptr);
    auto a = std::make_shared<IdpDescriptor>();
    a->entity_id = "https://a";
    auto b = std::make_shared<IdpDescriptor>();
    b->entity_id = "https://b";
    auto a2 = std::make_shared<IdpDescriptor>();
    a2->entity_id = "https://a";
    a2->want_authn_requests_signed = true;
    registry.add(b);
    registry.add(a);
    registry.add(std::shared_ptr<const IdpDescriptor>());
    LONGS_EQUAL(2, registry.size());
    CHECK(registry.find("https://a") == a);
    registry.add(a2);
    LONGS_EQUAL(2, registry.size());
    CHECK(registry.find("https://a")->want_authn_requests_signed);
    const auto ids = registry.entity_ids();
    LONGS_EQUAL(2, ids.size());
    STRCMP_EQUAL("https://a", ids[0].c_str());
    STRCMP_EQUAL("https://b", ids[1].c_str());
    CHECK(registry.find("https://A") == nullptr);
    CHECK(registry.find("") == nullptr);
}

TEST_GROUP(XsDuration){};

TEST(XsDuration, AcceptsTheFormsMetadataUses) {
    LONGS_EQUAL(6 * 3600, parse_xs_duration("PT6H").value().count());
    LONGS_EQUAL(86400, parse_xs_duration("P1D").value().count());
    LONGS_EQUAL(5400, parse_xs_duration("PT1H30M").value().count());
    LONGS_EQUAL(0, parse_xs_duration("PT0S").value().count());
    LONGS_EQUAL(90, parse_xs_duration("PT90.75S").value().count());
    LONGS_EQUAL(60, parse_xs_duration(" PT1M ").value().count());
    LONGS_EQUAL(30 * 86400, parse_xs_duration("P1M").value().count());
    LONGS_EQUAL(365 * 86400 + 2 * 30 * 86400 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6,
                parse_xs_duration("P1Y2M3DT4H5M6S").value().count());
}

TEST(XsDuration, RefusesEverythingElse) {
    for (const char* text : {"", "P", "PT", "6H", "-PT1H", "PT1H2H", "P1H", "PT1D", "P1.5D", "PT1.S", "P1M1Y",
                             "P 1D", "PT1M1H", "P1DT", "PTT1H", "P1D2", "p1d", "PT1000000000S", "P1Y1Y", "PT6h"}) {
        auto result = parse_xs_duration(text);
        CHECK_TEXT(!result.ok(), text);
        if (!result.ok()) STRCMP_EQUAL("SAML0404", result.error().code.c_str());
    }
}

// ---- Display names (the IdP chooser's labels) ---------------------------------------------------

namespace {

// An entity with this Extensions content in its IDPSSODescriptor and this Organization.
std::string named_entity(const std::string& extensions, const std::string& organization = "") {
    const std::string xml =
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:mdui=\"urn:oasis:names:tc:SAML:metadata:ui\" "
        "entityID=\"https://idp.example.org\"><md:IDPSSODescriptor "
        "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
        (extensions.empty() ? std::string() : "<md:Extensions>" + extensions + "</md:Extensions>") +
        signing_key_descriptor + redirect_sso + "</md:IDPSSODescriptor>" + organization + "</md:EntityDescriptor>";
    return with_certs(xml);
}

std::string display_name(const std::string& xml) { return only_idp(load(xml))->display_name; }

}  // namespace

TEST_GROUP(IdpDisplayName){};

TEST(IdpDisplayName, EnglishUiInfoDisplayNameIsPreferred) {
    STRCMP_EQUAL("Example University", display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"de\">Beispiel-Universit\xc3\xa4t</mdui:DisplayName>"
        "<mdui:DisplayName xml:lang=\"EN\">Example University</mdui:DisplayName>"
        "<mdui:DisplayName>No language</mdui:DisplayName></mdui:UIInfo>")).c_str());
}

TEST(IdpDisplayName, EnglishVariantThenNoLanguageThenTheFirstOther) {
    STRCMP_EQUAL("British name", display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"fr\">Nom</mdui:DisplayName>"
        "<mdui:DisplayName>Plain</mdui:DisplayName>"
        "<mdui:DisplayName xml:lang=\"en-GB\">British name</mdui:DisplayName></mdui:UIInfo>")).c_str());
    STRCMP_EQUAL("Plain", display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"fr\">Nom</mdui:DisplayName>"
        "<mdui:DisplayName>Plain</mdui:DisplayName></mdui:UIInfo>")).c_str());
    STRCMP_EQUAL("Nom", display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"fr\">Nom</mdui:DisplayName>"
        "<mdui:DisplayName xml:lang=\"nl\">Naam</mdui:DisplayName></mdui:UIInfo>")).c_str());
}

TEST(IdpDisplayName, FallsBackToOrganizationDisplayNameThenNothing) {
    const std::string organization =
        "<md:Organization><md:OrganizationName xml:lang=\"en\">EXU</md:OrganizationName>"
        "<md:OrganizationDisplayName xml:lang=\"sv\">Exempeluniversitetet</md:OrganizationDisplayName>"
        "<md:OrganizationDisplayName xml:lang=\"en\">Example U</md:OrganizationDisplayName>"
        "<md:OrganizationURL xml:lang=\"en\">https://www.example.org/</md:OrganizationURL></md:Organization>";
    STRCMP_EQUAL("Example U", display_name(named_entity("", organization)).c_str());
    // A UIInfo without a DisplayName (a logo only) does not hide the organisation's name.
    STRCMP_EQUAL("Example U", display_name(named_entity("<mdui:UIInfo><mdui:Logo height=\"16\" width=\"16\">"
                                                        "https://www.example.org/l.png</mdui:Logo></mdui:UIInfo>",
                                                        organization)).c_str());
    STRCMP_EQUAL("", display_name(named_entity("")).c_str());
}

TEST(IdpDisplayName, TextIsReadAsAPersonSeesItAndBounded) {
    // Entities are text; white space collapses; a comment cannot cut the name short.
    STRCMP_EQUAL("A & B <College>", display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"en\">\n  A &amp; B<!-- c -->  &lt;College&gt;\n"
        "</mdui:DisplayName></mdui:UIInfo>")).c_str());
    // Markup inside the name: that name is skipped, the entity is still loaded.
    STRCMP_EQUAL("Fallback", display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"en\"><b>Bold</b></mdui:DisplayName>"
        "<mdui:DisplayName xml:lang=\"de\">Fallback</mdui:DisplayName></mdui:UIInfo>")).c_str());
    // A huge name is cut at a character boundary (here inside a run of two-byte characters).
    std::string long_name;
    for (int i = 0; i < 300; ++i) long_name += "\xc3\xa9";
    const std::string name = display_name(named_entity(
        "<mdui:UIInfo><mdui:DisplayName xml:lang=\"en\">" + long_name + "</mdui:DisplayName></mdui:UIInfo>"));
    CHECK(name.size() <= 203);
    STRCMP_EQUAL("\xe2\x80\xa6", name.substr(name.size() - 3).c_str());
    CHECK((static_cast<unsigned char>(name[name.size() - 4]) & 0xc0) == 0x80);  // a whole é before the ellipsis
    CHECK(name.compare(0, 2, "\xc3\xa9") == 0);
}

TEST(IdpDisplayName, EachEntityOfAnAggregateHasItsOwnName) {
    const std::string shibboleth_idp = test::fill(shibboleth, "CERT", test::pki_cert_base64("idp-rsa"));
    STRCMP_EQUAL("Example University",
                 only_idp(load(test::fill(shibboleth_idp, "CERT2", test::pki_cert_base64("idp-rsa-next"))))
                     ->display_name.c_str());
}

// ---- IdPs kept as places in the document (large aggregates) ------------------------------------

namespace {

// Bytes a test can change after the load, as another process could change a mapped file.
class ChangeableBytes final : public DocumentBytes {
public:
    explicit ChangeableBytes(std::string text) : text(std::move(text)) {}
    std::string_view bytes() const noexcept override { return text; }
    std::string text;
};

LoadedMetadata load_as_places(const std::shared_ptr<const DocumentBytes>& document) {
    MetadataOptions options = test_options();
    options.defer_certificates = true;
    options.keep_as_places = document;
    return load(std::string(document->bytes()), options);
}

LoadedMetadata load_parsed(const std::string& xml) {
    MetadataOptions options = test_options();
    options.defer_certificates = true;
    return load(xml, options);
}

std::string der_of(const TrustedCertificate& trusted) {
    unsigned char* der = nullptr;
    const int length = i2d_X509(trusted.certificate.get(), &der);
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    return out;
}

void check_same_idp(const IdpDescriptor& expected, const IdpDescriptor& actual) {
    STRCMP_EQUAL(expected.entity_id.c_str(), actual.entity_id.c_str());
    STRCMP_EQUAL(expected.display_name.c_str(), actual.display_name.c_str());
    CHECK_EQUAL(expected.want_authn_requests_signed, actual.want_authn_requests_signed);
    auto same_endpoints = [](const std::vector<Endpoint>& a, const std::vector<Endpoint>& b) {
        LONGS_EQUAL(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            STRCMP_EQUAL(a[i].binding.c_str(), b[i].binding.c_str());
            STRCMP_EQUAL(a[i].location.c_str(), b[i].location.c_str());
            STRCMP_EQUAL(a[i].response_location.c_str(), b[i].response_location.c_str());
            LONGS_EQUAL(a[i].index, b[i].index);
            CHECK_EQUAL(a[i].is_default, b[i].is_default);
        }
    };
    same_endpoints(expected.single_sign_on, actual.single_sign_on);
    same_endpoints(expected.single_logout, actual.single_logout);
    same_endpoints(expected.artifact_resolution, actual.artifact_resolution);
    CHECK(expected.name_id_formats == actual.name_id_formats);
    CHECK(expected.valid_until == actual.valid_until);
    CHECK(expected.cache_duration == actual.cache_duration);
    const auto& expected_signing = expected.signing_certificates();
    const auto& actual_signing = actual.signing_certificates();
    LONGS_EQUAL(expected_signing.size(), actual_signing.size());
    for (std::size_t i = 0; i < expected_signing.size(); ++i)
        CHECK(der_of(expected_signing[i]) == der_of(actual_signing[i]));
    LONGS_EQUAL(expected.encryption_certificates().size(), actual.encryption_certificates().size());
}

// Namespaces declared at every level (a default namespace, prefixes the entities only inherit, a
// prefix redeclared lower down), xml:lang on an ancestor, comments and CDATA with markup in them,
// attribute values with '>' and "/>", validity on the path: what reading an entity alone must keep.
std::string awkward_aggregate() {
    const std::string key = R"XML(<KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{CERT}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>)XML";
    const std::string key2 = R"XML(<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{CERT2}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)XML";
    return with_certs(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- <EntityDescriptor entityID=\"fake\"> -->\n"
        "<EntitiesDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
        "xmlns:mdui=\"urn:oasis:names:tc:SAML:metadata:ui\" xml:lang=\"de\" Name=\"a > b /> c\" cacheDuration=\"P1D\">"
        "<?pi <Entity?>"
        "<EntityDescriptor entityID=\"https://a.example.org\"><IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\" WantAuthnRequestsSigned=\"true\">"
        "<Extensions><mdui:UIInfo><mdui:DisplayName>Hochschule A</mdui:DisplayName><mdui:DisplayName xml:lang=\"fr\">&#201;cole A</mdui:DisplayName></mdui:UIInfo></Extensions>" +
        key +
        "<ArtifactResolutionService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"https://a.example.org/ars?x=1&amp;y=2\" index=\"1\" isDefault=\"true\"/>"
        "<SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://a.example.org/sso\"/>"
        "<NameIDFormat><![CDATA[urn:oasis:names:tc:SAML:2.0:nameid-format:<persistent>]]></NameIDFormat>"
        "</IDPSSODescriptor></EntityDescriptor>"
        "<EntityDescriptor entityID=\"https://sp.example.org\"><SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"/></EntityDescriptor>"
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" validUntil=\"2026-07-01T00:00:00Z\" cacheDuration=\"PT1H\">"
        "<md:EntityDescriptor entityID=\"https://b.example.org\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">" +
        key2 +
        "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://b.example.org/slo\" ResponseLocation=\"https://b.example.org/slo-r\"/>"
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://b.example.org/sso\"/>"
        "</md:IDPSSODescriptor><md:Organization><md:OrganizationName xml:lang=\"en\">B</md:OrganizationName>"
        "<md:OrganizationDisplayName xml:lang=\"en\">B University</md:OrganizationDisplayName><md:OrganizationURL xml:lang=\"en\">https://b.example.org</md:OrganizationURL></md:Organization>"
        "</md:EntityDescriptor></md:EntitiesDescriptor>"
        "<EntityDescriptor entityID=\"https://c.example.org\"/>"  // an empty element: no role, skipped
        "</EntitiesDescriptor>\n");
}

}  // namespace

TEST_GROUP(IdpPlaces){};

TEST(IdpPlaces, EachIdpReadAloneFromItsPlaceIsTheSameAsInTheWholeDocument) {
    const std::string xml = awkward_aggregate();
    const auto parsed = load_parsed(xml);
    LONGS_EQUAL(2, parsed.idps.size());
    const auto places = load_as_places(document_bytes(xml));
    LONGS_EQUAL(0, places.idps.size());
    LONGS_EQUAL(2, places.lazy_idps.size());
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& lazy = *places.lazy_idps[i];
        STRCMP_EQUAL(parsed.idps[i]->entity_id.c_str(), lazy.entity_id().c_str());
        STRCMP_EQUAL(parsed.idps[i]->display_name.c_str(), lazy.summary().display_name.c_str());
        CHECK(parsed.idps[i]->valid_until == lazy.valid_until());
        const auto read = lazy.descriptor();
        CHECK_TEXT(read != nullptr, lazy.failure().c_str());
        check_same_idp(*parsed.idps[i], *read);
        CHECK(read == lazy.descriptor());  // read once
    }
    STRCMP_EQUAL("Hochschule A", places.lazy_idps[0]->descriptor()->display_name.c_str());  // xml:lang="de" inherited
    STRCMP_EQUAL("urn:oasis:names:tc:SAML:2.0:nameid-format:<persistent>",
                 places.lazy_idps[0]->descriptor()->name_id_formats.at(0).c_str());
    LONGS_EQUAL(1, places.lazy_idps[0]->summary().soap_artifact_locations.size());
    STRCMP_EQUAL("https://a.example.org/ars?x=1&y=2", places.lazy_idps[0]->summary().soap_artifact_locations[0].c_str());
    LONGS_EQUAL(3600, places.lazy_idps[1]->descriptor()->cache_duration->count());
}

TEST(IdpPlaces, TheRegistryAnswersFromPlacesAndListsWithoutReading) {
    const auto places = load_as_places(document_bytes(awkward_aggregate()));
    IdpRegistry registry;
    for (const auto& idp : places.lazy_idps) registry.add(idp);
    LONGS_EQUAL(2, registry.size());
    CHECK_TRUE(registry.contains("https://b.example.org"));
    CHECK_FALSE(registry.contains("https://sp.example.org"));
    STRCMP_EQUAL("B University", registry.summary("https://b.example.org")->display_name.c_str());
    CHECK_FALSE(registry.summary("https://nobody.example.org").has_value());
    const auto found = registry.find("https://b.example.org");
    CHECK(found != nullptr);
    STRCMP_EQUAL("https://b.example.org/slo-r", found->single_logout.at(0).response_location.c_str());
    CHECK(registry.find("https://nobody.example.org") == nullptr);
}

TEST(IdpPlaces, BytesChangedAfterVerificationAreNotRead) {
    auto bytes = std::make_shared<ChangeableBytes>(awkward_aggregate());
    const auto places = load_as_places(bytes);
    LONGS_EQUAL(2, places.lazy_idps.size());
    // Another SSO location for b, same length, after the document was verified.
    const auto at = bytes->text.find("https://b.example.org/sso");
    CHECK(at != std::string::npos);
    bytes->text.replace(at, 25, "https://evil.example/ssoX");
    IdpRegistry registry;
    for (const auto& idp : places.lazy_idps) registry.add(idp);
    CHECK(registry.find("https://b.example.org") == nullptr);  // unknown: closed, not open
    CHECK(places.lazy_idps[1]->failure().find("SAML0936") != std::string::npos);
    CHECK(registry.find("https://a.example.org") != nullptr);  // the others are untouched
    CHECK_TRUE(registry.contains("https://b.example.org"));
}

TEST(IdpPlaces, WithoutKeepAsPlacesOrForASingleEntityNothingChanges) {
    const auto parsed = load_parsed(awkward_aggregate());
    LONGS_EQUAL(0, parsed.lazy_idps.size());
    const auto single = load_as_places(document_bytes(entity()));
    LONGS_EQUAL(1, single.idp_count());
    CHECK(single.lazy_idps.size() == 1 || single.idps.size() == 1);
    const auto idp = single.lazy_idps.empty() ? single.idps[0] : single.lazy_idps[0]->descriptor();
    CHECK(idp != nullptr);
    STRCMP_EQUAL("https://idp.example.org", idp->entity_id.c_str());
}

TEST(IdpPlaces, AnArtifactsSourceIdFindsItsIdpThroughAnIndex) {
    const auto places = load_as_places(document_bytes(awkward_aggregate()));
    IdpRegistry registry;
    for (const auto& idp : places.lazy_idps) registry.add(idp);
    const auto b = registry.find_by_source_id(sha1("https://b.example.org"));
    CHECK(b != nullptr);
    STRCMP_EQUAL("https://b.example.org", b->entity_id.c_str());
    CHECK(registry.find_by_source_id(sha1("https://nobody.example.org")) == nullptr);
    CHECK(registry.find_by_source_id(std::string(20, '\0')) == nullptr);
    // An IdP added after a lookup is found too (the index is built again).
    auto late = std::make_shared<IdpDescriptor>();
    late->entity_id = "https://late.example.org";
    registry.add(std::shared_ptr<const IdpDescriptor>(late));
    CHECK(registry.find_by_source_id(sha1("https://late.example.org")) == late);
    CHECK(registry.find_by_source_id(sha1("https://a.example.org")) != nullptr);
}

TEST_GROUP(IdpScopes){};

TEST(IdpScopes, ShibmdScopeIsReadFromTheEntityAndTheRole) {
    const std::string scopes_on_entity =
        "<md:Extensions><shibmd:Scope xmlns:shibmd=\"urn:mace:shibboleth:metadata:1.0\" regexp=\"false\">example.org</shibmd:Scope>"
        "</md:Extensions>";
    const std::string xml = with_certs(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
        "xmlns:shibmd=\"urn:mace:shibboleth:metadata:1.0\" entityID=\"https://idp.example.org\">" + scopes_on_entity +
        "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:Extensions>"
        "<shibmd:Scope regexp=\"true\">^[a-z]+\\.example\\.org$</shibmd:Scope><shibmd:Scope> lab.example.net </shibmd:Scope>"
        "</md:Extensions>" + std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>");
    const auto idp = only_idp(load(xml));
    LONGS_EQUAL(3, idp->scopes.size());
    CHECK_TRUE(idp->scopes[0].allows("example.org"));
    CHECK_TRUE(idp->scopes[0].allows("Example.ORG"));
    CHECK_FALSE(idp->scopes[0].allows("sub.example.org"));
    CHECK_FALSE(idp->scopes[0].allows("example.org.evil"));
    CHECK_TRUE(idp->scopes[1].allows("physics.example.org"));
    CHECK_FALSE(idp->scopes[1].allows("physics.example.org.evil.example"));
    CHECK_FALSE(idp->scopes[1].allows("example.org"));
    STRCMP_EQUAL("lab.example.net", idp->scopes[2].value.c_str());
    // Read back from its place in an aggregate, the same scopes.
    const auto places = load_as_places(document_bytes(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">" + xml.substr(xml.find("<md:EntityDescriptor")) +
        "</md:EntitiesDescriptor>"));
    LONGS_EQUAL(1, places.lazy_idps.size());
    LONGS_EQUAL(3, places.lazy_idps[0]->descriptor()->scopes.size());
}

TEST(IdpScopes, ABadScopeSkipsThatIdpOfAnAggregate) {
    auto with_scope = [](const std::string& id, const std::string& scope) {
        return "<md:EntityDescriptor entityID=\"" + id + "\"><md:IDPSSODescriptor protocolSupportEnumeration="
               "\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:Extensions>" + scope + "</md:Extensions>" +
               std::string(signing_key_descriptor) + redirect_sso + "</md:IDPSSODescriptor></md:EntityDescriptor>";
    };
    const std::string ns = " xmlns:shibmd=\"urn:mace:shibboleth:metadata:1.0\"";
    auto loaded = load(with_certs(aggregate(ns.substr(1),
        with_scope("https://a.example.org", "<shibmd:Scope regexp=\"true\">([</shibmd:Scope>") +
        with_scope("https://b.example.org", "<shibmd:Scope regexp=\"maybe\">b.example.org</shibmd:Scope>") +
        with_scope("https://c.example.org", "<shibmd:Scope></shibmd:Scope>") +
        with_scope("https://d.example.org", "<shibmd:Scope>d.example.org</shibmd:Scope>"))));
    LONGS_EQUAL(1, loaded.idps.size());
    STRCMP_EQUAL("https://d.example.org", loaded.idps[0]->entity_id.c_str());
    LONGS_EQUAL(3, loaded.warnings.size());
    STRCMP_EQUAL("SAML0420", loaded.warnings[0].code.c_str());
}

TEST(IdpPlaces, ADocumentInAnotherEncodingStaysParsed) {
    // Read back alone, a place has no XML declaration: only UTF-8 documents are kept as places.
    std::string xml = awkward_aggregate();
    xml.replace(0, xml.find("?>") + 2, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>");
    const auto at = xml.find("Hochschule A");
    xml.replace(at, 12, "Hochschule \xC4");  // Ä in Latin-1
    const auto places = load_as_places(document_bytes(xml));
    LONGS_EQUAL(0, places.lazy_idps.size());
    LONGS_EQUAL(2, places.idps.size());
    STRCMP_EQUAL("Hochschule \xC3\x84", places.idps[0]->display_name.c_str());
}
