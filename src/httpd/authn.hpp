// Authentication and authorization hooks: AuthType SAML, passive mode, the endpoints' own
// access rule, and the saml-user / saml-attribute providers.
#pragma once

#include <httpd.h>

namespace saml_httpd {

int check_user_id(request_rec* r);        // check_authn hook: AuthType SAML
int prepare_session(request_rec* r);      // access_checker: session env before authz_core's user-less pass
int force_authn(request_rec* r);          // force_authn: a session is there, so set the user
int endpoints_are_public(request_rec* r); // check_access_ex: our endpoints need no login
void register_authz_providers(apr_pool_t* pool);

}  // namespace saml_httpd
