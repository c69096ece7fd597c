#include "mellon_env.hpp"

#include <CppUTest/TestHarness.h>

#include <string>
#include <utility>
#include <vector>

using namespace saml;

namespace {

using Variables = std::vector<std::pair<std::string, std::string>>;

Session mellon_session() {
    Session s;
    s.user = "alice";
    s.name_id.value = "AAdzZWNyZXQx";
    s.assertion_id = "_assertion-7";
    s.idp_entity_id = "https://idp.example.org/saml2/idp/metadata.php";
    s.attributes.push_back(Attribute{"uid", "", "", {"alice"}});
    s.attributes.push_back(Attribute{"urn:oid:0.9.2342.19200300.100.1.3", "", "mail", {"alice@example.org"}});
    s.attributes.push_back(Attribute{"groups", "", "", {"staff", "admins"}});
    return s;
}

void check_variables(const Variables& expected, const Variables& actual) {
    std::string e, a;
    for (const auto& [name, value] : expected) e += name + "=" + value + "\n";
    for (const auto& [name, value] : actual) a += name + "=" + value + "\n";
    STRCMP_EQUAL(e.c_str(), a.c_str());
}

}  // namespace

TEST_GROUP(MellonEnv){};

TEST(MellonEnv, DefaultsNameEveryValueAfterTheAttributeNameAndNumberFromZero) {
    check_variables({{"MELLON_NAME_ID", "AAdzZWNyZXQx"}, {"MELLON_NAME_ID_0", "AAdzZWNyZXQx"},
                     {"MELLON_ASSERTION_ID", "_assertion-7"}, {"MELLON_ASSERTION_ID_0", "_assertion-7"},
                     {"MELLON_uid", "alice"}, {"MELLON_uid_0", "alice"},
                     // The Name, never the FriendlyName.
                     {"MELLON_urn:oid:0.9.2342.19200300.100.1.3", "alice@example.org"},
                     {"MELLON_urn:oid:0.9.2342.19200300.100.1.3_0", "alice@example.org"},
                     {"MELLON_groups", "staff"}, {"MELLON_groups_0", "staff"}, {"MELLON_groups_1", "admins"},
                     {"MELLON_IDP", "https://idp.example.org/saml2/idp/metadata.php"},
                     {"MELLON_IDP_0", "https://idp.example.org/saml2/idp/metadata.php"}},
                    mellon_variables(mellon_session(), MellonEnvOptions{}));
}

TEST(MellonEnv, MergeSeparatorJoinsTheValuesUnderOneNameWithoutNumbers) {
    MellonEnvOptions options;
    options.merge_separator = ":";
    options.idp_name.clear();  // mellon's default: no MellonIdP, no IdP variable
    const Variables v = mellon_variables(mellon_session(), options);
    check_variables({{"MELLON_NAME_ID", "AAdzZWNyZXQx"}, {"MELLON_ASSERTION_ID", "_assertion-7"},
                     {"MELLON_uid", "alice"}, {"MELLON_urn:oid:0.9.2342.19200300.100.1.3", "alice@example.org"},
                     {"MELLON_groups", "staff"}, {"MELLON_groups", "staff:admins"}},
                    v);
}

TEST(MellonEnv, IndexStartAndSetCountAsMellonEnvVarsIndexStartAndSetCount) {
    MellonEnvOptions options;
    options.index_start = 1;
    options.set_count = true;
    options.prefix = "SSO_";
    options.idp_name = "IDP_ENTITY";
    Session s = mellon_session();
    s.attributes.erase(s.attributes.begin(), s.attributes.begin() + 2);
    check_variables({{"SSO_NAME_ID", "AAdzZWNyZXQx"}, {"SSO_NAME_ID_1", "AAdzZWNyZXQx"}, {"SSO_NAME_ID_N", "1"},
                     {"SSO_ASSERTION_ID", "_assertion-7"}, {"SSO_ASSERTION_ID_1", "_assertion-7"},
                     {"SSO_ASSERTION_ID_N", "1"},
                     {"SSO_groups", "staff"}, {"SSO_groups_1", "staff"}, {"SSO_groups_N", "1"},
                     {"SSO_groups_2", "admins"}, {"SSO_groups_N", "2"},
                     {"SSO_IDP_ENTITY", "https://idp.example.org/saml2/idp/metadata.php"},
                     {"SSO_IDP_ENTITY_1", "https://idp.example.org/saml2/idp/metadata.php"},
                     {"SSO_IDP_ENTITY_N", "1"}},
                    mellon_variables(s, options));
}

TEST(MellonEnv, RenamesMatchExactlyAndMayDropThePrefix) {
    MellonEnvOptions options;
    options.idp_name.clear();
    options.merge_separator = ";";
    options.renames = {{"urn:oid:0.9.2342.19200300.100.1.3", "REMOTE_USER_EMAIL", false},
                       {"NAME_ID", "user-id", true},  // a SetEnv of the NameID (MellonSetEnv user-id NAME_ID)
                       {"GROUPS", "never", true},     // case matters, as in mellon's table
                       {"groups", "REMOTE_USER_GROUPS", false},
                       {"groups", "second rename of the same name is not used", true}};
    Session s = mellon_session();
    s.assertion_id.clear();  // a session sealed before the assertion ID was kept
    check_variables({{"MELLON_user-id", "AAdzZWNyZXQx"}, {"MELLON_uid", "alice"},
                     {"REMOTE_USER_EMAIL", "alice@example.org"},
                     {"REMOTE_USER_GROUPS", "staff"}, {"REMOTE_USER_GROUPS", "staff;admins"}},
                    mellon_variables(s, options));
}

TEST(MellonEnv, AttributesRenamedToOneNameShareItsNumbersAndEmptyValuesAreSkipped) {
    MellonEnvOptions options;
    options.idp_name.clear();
    options.renames = {{"uid", "who", true}, {"groups", "who", true}};
    Session s = mellon_session();
    s.name_id.value.clear();
    s.assertion_id.clear();
    s.attributes[2].values = {"staff", "", "admins"};
    check_variables({{"MELLON_who", "alice"}, {"MELLON_who_0", "alice"},
                     {"MELLON_urn:oid:0.9.2342.19200300.100.1.3", "alice@example.org"},
                     {"MELLON_urn:oid:0.9.2342.19200300.100.1.3_0", "alice@example.org"},
                     {"MELLON_who_1", "staff"}, {"MELLON_who_2", "admins"}},
                    mellon_variables(s, options));
}
