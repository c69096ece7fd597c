#include "init.hpp"

#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

#include <cstdio>

int main(int argc, char** argv) {
    // Leaks are the sanitizer build's job (LeakSanitizer sees every allocator, CppUTest only
    // operator new, and it flags libraries' lazily built statics as leaks).
    MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
    auto init = saml::initialize_libraries();
    if (!init) {
        std::fprintf(stderr, "library init failed: %s\n", init.error().message().c_str());
        return 2;
    }
    return CommandLineTestRunner::RunAllTests(argc, argv);
}
