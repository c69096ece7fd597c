// Writes fresh, unique, signed Responses for the /acs throughput benchmark (bench/acs_bench.py):
// one POST body per line, "SAMLResponse=<url-encoded base64>", each with its own Response and
// Assertion IDs so the replay cache accepts every one exactly once. Unsolicited (no
// InResponseTo): the benchmark SP sets SAMLAllowUnsolicited On. Signed with the test PKI's IdP key.
//
//   make_responses --count N --acs URL --sp-entity ID --idp-entity ID [--attributes K] [--valid-seconds S]
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "init.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

using namespace saml;
using namespace saml::test;

int main(int argc, char** argv) {
    std::map<std::string, std::string> args;
    for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
    for (const char* required : {"--count", "--acs", "--sp-entity", "--idp-entity"})
        if (!args.count(required)) {
            std::fprintf(stderr, "usage: make_responses --count N --acs URL --sp-entity ID --idp-entity ID "
                                 "[--attributes K] [--valid-seconds S]\n");
            return 2;
        }
    if (!initialize_libraries()) return 1;
    const long count = std::atol(args["--count"].c_str());
    const int attributes = args.count("--attributes") ? std::atoi(args["--attributes"].c_str()) : 10;
    const long valid = args.count("--valid-seconds") ? std::atol(args["--valid-seconds"].c_str()) : 600;
    set_test_now(Clock::now());

    ResponseSpec spec;
    spec.issuer = spec.assertion.issuer = args["--idp-entity"];
    spec.destination = spec.assertion.recipient = args["--acs"];
    spec.assertion.audience = args["--sp-entity"];
    spec.in_response_to.clear();
    spec.assertion.confirmation_in_response_to.clear();
    spec.assertion.confirmation_lifetime = std::chrono::seconds(valid);
    spec.assertion.not_on_or_after_offset = std::chrono::seconds(valid);
    spec.assertion.attributes = typical_attributes();
    spec.assertion.attributes.resize(std::min<std::size_t>(spec.assertion.attributes.size(), attributes));
    for (int i = static_cast<int>(spec.assertion.attributes.size()); i < attributes; ++i)
        spec.assertion.attributes.push_back({"urn:bench:attribute:" + std::to_string(i), "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                                             "bench" + std::to_string(i), {"value-" + std::to_string(i) + "-abcdefghijklmnop"}});
    std::random_device random;  // IDs unique across runs too: the replay cache outlives one run
    const std::string run = std::to_string(random()) + std::to_string(random());
    for (long i = 0; i < count; ++i) {
        const std::string n = std::to_string(i);
        spec.id = "_bench-response-" + run + "-" + n;
        spec.assertion.id = "_bench-assertion-" + run + "-" + n;
        spec.assertion.name_id = "user" + n;
        std::printf("SAMLResponse=%s\n", url_encode(response_base64(spec)).c_str());
    }
    return 0;
}
