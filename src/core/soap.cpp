#include "soap.hpp"

namespace saml {

std::string soap_envelope(std::string_view body_xml) {
    return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV=\"") + soap_envelope_ns +
           "\"><SOAP-ENV:Body>" + std::string(body_xml) + "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
}

SoapBody soap_body_message(xmlDoc* doc) {
    SoapBody out;
    xmlNode* envelope = xmlDocGetRootElement(doc);
    if (!is_element(envelope, soap_envelope_ns, "Envelope")) {
        out.problem = "the message is " + name_of(envelope) + ", not a SOAP 1.1 Envelope";
        return out;
    }
    xmlNode* body = unique_child(envelope, soap_envelope_ns, "Body");
    if (body == nullptr) {
        out.problem = "the SOAP envelope has no Body";
        return out;
    }
    xmlNode* message = first_element_child(body);
    if (message == nullptr || next_element_sibling(message) != nullptr) {
        out.problem = "the SOAP Body must hold exactly one element";
        return out;
    }
    if (is_element(message, soap_envelope_ns, "Fault")) {
        out.problem = "a SOAP Fault: " + deep_text(message).substr(0, 300);
        return out;
    }
    out.message = message;
    return out;
}

std::string soap_fault(bool client_fault, std::string_view reason) {
    return soap_envelope(std::string("<SOAP-ENV:Fault><faultcode>SOAP-ENV:") + (client_fault ? "Client" : "Server") +
                         "</faultcode><faultstring>" + xml_escape(reason) + "</faultstring></SOAP-ENV:Fault>");
}

}  // namespace saml
