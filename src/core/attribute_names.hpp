// Names for SAML attributes that people and environment variables can use: the short LDAP /
// eduPerson name for well-known OIDs and claim URIs, and an environment-safe spelling of any name.
#pragma once

#include "model.hpp"

#include <string>
#include <string_view>

namespace saml {

// "urn:oid:0.9.2342.19200300.100.1.3" -> "mail", the WS-Federation / Microsoft claim URIs ->
// "mail", "givenName", "groups", ...; also the old "urn:mace:dir:attribute-def:<name>" form of
// the same attributes. The "urn:oid:" prefix and claim URIs match case-insensitively.
// Unknown names give an empty view. The result points to static storage.
std::string_view friendly_attribute_name(std::string_view name);

// Every byte outside [A-Za-z0-9_] becomes '_' (one '_' per byte, so a UTF-8 character gives
// several), e.g. "urn:oid:2.5.4.3" -> "urn_oid_2_5_4_3".
std::string env_safe_name(std::string_view name);

// Whether an administrator's name for an attribute (SAMLUserAttribute, Require saml-attribute)
// denotes this attribute: its Name, its FriendlyName, or the short name above — so "mail"
// finds urn:oid:0.9.2342.19200300.100.1.3 whether or not the IdP sent a FriendlyName.
bool attribute_named(const Attribute& attribute, std::string_view name);

// SAML core 1.3.1: a string value holds at least one non-whitespace character. True when
// `value` holds nothing but whitespace: XML's, Unicode's White_Space (no-break and ideographic
// spaces ...) and the zero-width and soft-hyphen characters that render as nothing; so "   ",
// "\u00a0" or "\u200b" are blank, and no person can tell such a user id from another one.
bool is_blank(std::string_view value);

// A user id ends up in REMOTE_USER, logs, headers and code that splits on lines: one that is
// blank (above) or holds a control character (a newline above all) is not usable, whoever
// signed it.
bool usable_as_user_id(std::string_view value);

}  // namespace saml
