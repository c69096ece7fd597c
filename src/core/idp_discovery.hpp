// The SAML IdP Discovery Protocol (sstc-saml-idp-discovery, 2008): the SP sends the browser to a
// discovery service with its entityID and a return URL; the service sends it back to that URL
// with the chosen IdP's entityID in the parameter the SP named (nothing when it has no choice).
#pragma once

#include "error.hpp"

#include <string>
#include <string_view>

namespace saml {

namespace idp_discovery {
// The profile's namespace, also the Binding of md:Extensions/idpdisc:DiscoveryResponse.
inline constexpr const char* ns = "urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol";
}  // namespace idp_discovery

// Config error (SAML0470) unless the URL is an absolute http(s) URL without a fragment.
Result<std::string> check_discovery_url(std::string_view url);

// The discovery request: the service's URL with entityID, return and returnIDParam added
// (after its own query, if it has one). policy is left out: the default, "single", is ours.
std::string discovery_request_url(std::string_view service_url, std::string_view sp_entity_id,
                                  std::string_view return_url, std::string_view return_id_param);

}  // namespace saml
