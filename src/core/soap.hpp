// SOAP 1.1 as SAML's SOAP binding uses it: an Envelope, an optional Header, a Body holding
// exactly one SAML message. For the Artifact binding's back channel and back-channel logout.
#pragma once

#include "xml.hpp"

#include <string>
#include <string_view>

namespace saml {

inline constexpr const char* soap_envelope_ns = "http://schemas.xmlsoap.org/soap/envelope/";

// The envelope around one serialized message (with the XML declaration).
std::string soap_envelope(std::string_view body_xml);

// The one element in the Body of a parsed envelope, or the reason it is not one: not an
// Envelope, no Body, not exactly one element in it, or a Fault (its text, shortened).
struct SoapBody {
    xmlNode* message = nullptr;
    std::string problem;  // empty when message is set
};
SoapBody soap_body_message(xmlDoc* doc);

// A SOAP Fault, for a request whose message could not be taken (faultcode Client or Server).
std::string soap_fault(bool client_fault, std::string_view reason);

}  // namespace saml
