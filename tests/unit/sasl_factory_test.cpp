#include "../catch.hpp"

#include <pop3/sasl/factory.hpp>

#include <string>

using mechanism_id = pop3::auth_method;

TEST_CASE("SASL factory: names and ids round-trip, case-insensitively", "[sasl]")
{
    for (auto id : {mechanism_id::plain, mechanism_id::login, mechanism_id::cram_md5,
                    mechanism_id::scram_sha_1, mechanism_id::scram_sha_256, mechanism_id::xoauth2,
                    mechanism_id::oauthbearer}) {
        const std::string_view name = pop3::auth_method_name(id);
        INFO(name);
        CHECK(pop3::sasl::find_mechanism(name) == id);
        std::string lower(name);
        for (auto& c : lower)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        CHECK(pop3::sasl::find_mechanism(lower) == id);
    }
    CHECK_FALSE(pop3::sasl::find_mechanism("DIGEST-MD5"));
    CHECK_FALSE(pop3::sasl::find_mechanism("SCRAM-SHA-256-PLUS"));
    CHECK_FALSE(pop3::sasl::find_mechanism(""));
    // USER and APOP are login methods, not SASL mechanisms.
    CHECK_FALSE(pop3::sasl::find_mechanism("USER"));
    CHECK_FALSE(pop3::sasl::find_mechanism("APOP"));
    STATIC_REQUIRE(pop3::sasl::find_mechanism("scram-sha-1") == mechanism_id::scram_sha_1);
}

TEST_CASE("SASL factory: password mechanisms, strongest first", "[sasl]")
{
    const auto ranked = pop3::sasl::ranked_password_mechanisms();
    CHECK(ranked == std::vector<mechanism_id>{mechanism_id::scram_sha_256,
                                              mechanism_id::scram_sha_1, mechanism_id::plain,
                                              mechanism_id::login, mechanism_id::cram_md5});
    for (auto id : ranked) {
        CHECK_FALSE(pop3::find_auth_method(id)->token);
        const auto m = pop3::sasl::make_password_mechanism(id, "user", "pencil");
        REQUIRE(m);
        CHECK(m->name() == pop3::auth_method_name(id));
    }
    CHECK_FALSE(pop3::sasl::make_password_mechanism(mechanism_id::xoauth2, "u", "t"));
    CHECK_FALSE(pop3::sasl::make_password_mechanism(mechanism_id::oauthbearer, "u", "t"));
    CHECK(pop3::find_auth_method(mechanism_id::oauthbearer)->token);
    CHECK_FALSE(pop3::sasl::make_password_mechanism(pop3::auth_method::user, "u", "p"));
}

TEST_CASE("SASL factory: the secret-exposure flags the POP3 policy relies on", "[sasl]")
{
    const auto exposes = [](mechanism_id id) {
        return pop3::sasl::make_password_mechanism(id, "u", "p")->exposes_secret();
    };
    CHECK_FALSE(exposes(mechanism_id::scram_sha_256));
    CHECK_FALSE(exposes(mechanism_id::scram_sha_1));
    CHECK_FALSE(exposes(mechanism_id::cram_md5));
    CHECK(exposes(mechanism_id::plain));
    CHECK(exposes(mechanism_id::login));
    CHECK(pop3::sasl::make_password_mechanism(mechanism_id::cram_md5, "u", "p")->weak());
    CHECK_FALSE(pop3::sasl::make_password_mechanism(mechanism_id::scram_sha_1, "u", "p")->weak());
}

TEST_CASE("SASL factory: the auth_methods table agrees with the mechanisms it makes", "[sasl]")
{
    for (const auto& info : pop3::auth_methods) {
        INFO(info.name);
        const auto m = pop3::sasl::make_mechanism(info.method, "u", "secret");
        CHECK(static_cast<bool>(m) == info.sasl);
        if (!m) continue;
        CHECK(m->name() == info.name);
        CHECK(m->exposes_secret() == info.reveals_secret);
        // Safe without TLS: reveals nothing, and no offline attack on a recorded exchange.
        if (info.safe_without_tls) CHECK((!m->exposes_secret() && !m->weak()));
    }
    CHECK_FALSE(pop3::sasl::make_mechanism(pop3::auth_method::automatic, "u", "p"));
    CHECK(pop3::auth_method_name(pop3::auth_method::automatic) == std::string("automatic"));
}
