// Prints microseconds per Response validation for a typical login: RSA-2048 / SHA-256,
// Response and Assertion both signed, 10 attributes; also with the assertion encrypted.
// A figure to read, not a pass/fail test. Usage: bench_response [iterations]
#include "encoding.hpp"
#include "idp_builder.hpp"
#include "init.hpp"
#include "response.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace saml;
using namespace saml::test;

namespace {

double micros_per_validation(const ResponseSpec& spec, int iterations) {
    const SpSettings sp = test_sp();
    const IdpRegistry idps = test_registry();
    SecurityPolicy policy;
    ResponseValidator validator(sp, policy, idps);
    const std::string posted = response_base64(spec);
    const ResponseInput input{posted, std::vector<std::string>{kRequestId}, test_now(), ""};
    for (int i = 0; i < iterations / 10 + 1; ++i)  // warm up
        if (!validator.validate(input, nullptr)) {
            std::fprintf(stderr, "validation failed: %s\n", validator.validate(input, nullptr).error().message().c_str());
            std::exit(1);
        }
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i)
        if (!validator.validate(input, nullptr)) std::exit(1);
    const std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count() / iterations;
}

}  // namespace

int main(int argc, char** argv) {
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
    const bool typical_only = argc > 2 && std::string(argv[2]) == "typical";  // for profiling
    if (!initialize_libraries()) return 1;
    ResponseSpec typical;
    typical.assertion.attributes = typical_attributes();
    std::printf("response bytes (base64): %zu\n", response_base64(typical).size());
    std::printf("validate signed Response + signed Assertion, 10 attributes: %.1f us\n",
                micros_per_validation(typical, iterations));
    if (typical_only) return 0;
    ResponseSpec assertion_only = typical;
    assertion_only.sign_response = false;
    std::printf("validate signed Assertion only, 10 attributes:              %.1f us\n",
                micros_per_validation(assertion_only, iterations));
    ResponseSpec encrypted = typical;
    encrypted.encrypt = true;
    std::printf("validate signed + encrypted (AES-256-GCM, RSA-OAEP):        %.1f us\n",
                micros_per_validation(encrypted, iterations / 4));
    return 0;
}
