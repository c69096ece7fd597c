// Byte encodings the bindings need: base64 (standard, and URL-safe without padding for
// cookies), raw DEFLATE for the HTTP-Redirect binding, and URL percent-encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace saml {

std::string base64_encode(std::string_view bytes);
// Strict decoding: whitespace (which form posts and PEM bodies carry) is skipped; any other
// character outside the alphabet, bad padding or a truncated quantum is BadInput.
// max_decoded bounds the output before anything is allocated.
std::string base64_decode(std::string_view text, std::size_t max_decoded, const char* what);

std::string base64url_encode(std::string_view bytes);                 // no padding
std::string base64url_decode(std::string_view text, std::size_t max_decoded, const char* what);

std::string deflate_raw(std::string_view bytes);
// Inflates at most max_output bytes; more is BadInput (a DEFLATE bomb stops there).
std::string inflate_raw(std::string_view bytes, std::size_t max_output, const char* what);

std::string url_encode(std::string_view text);  // RFC 3986 unreserved kept, the rest %XX
// Decodes %XX and '+' (as form/query encoding does); a malformed escape is BadInput.
std::string url_decode(std::string_view text, const char* what);

std::string hex_encode(std::string_view bytes);

// ASCII letters compared without case (protocol names, domains); other bytes exactly.
bool ascii_iequals(std::string_view a, std::string_view b);

}  // namespace saml
