// pop3/detail/auth_operations.hpp: login by USER/PASS, APOP or SASL, and the policy that
// picks the method. No Asio here.
#ifndef POP3_DETAIL_AUTH_OPERATIONS_HPP
#define POP3_DETAIL_AUTH_OPERATIONS_HPP

#include <pop3/auth.hpp>
#include <pop3/detail/operations.hpp>
#include <pop3/sasl/apop.hpp>
#include <pop3/sasl/base64.hpp>
#include <pop3/sasl/factory.hpp>
#include <pop3/sasl/mechanism.hpp>
#include <pop3/sasl/secret.hpp>

#include <memory>
#include <string>
#include <utility>

namespace pop3::detail {

using sasl::detail::cleanse;

/// Is `m` on offer? USER is assumed when the server gave no CAPA (RFC 1939 servers).
inline bool offered(auth_method m, const protocol& p) noexcept
{
    return offers(p.caps(), p.greeting(), m);
}

/// The method `automatic` stands for: the strongest the server offers that the policy
/// allows, in the order of the `auth_methods` table. Without TLS (when plaintext is
/// allowed at all) the methods that do not send the secret itself come first.
inline error_code choose_method(const protocol& p, const login_options& o, bool token,
                                     auth_method& chosen)
{
    const bool tls = p.tls_active();
    const auto before = [tls](const auth_method_info& a, const auth_method_info& b) {
        if (!tls && a.reveals_secret != b.reveals_secret) return !a.reveals_secret;
        return a.rank < b.rank;
    };
    const auth_method_info* best = nullptr;
    bool refused_by_policy = false;
    for (const auto& info : auth_methods) {
        if (info.rank == 0 || info.token != token || !offered(info.method, p)) continue;
        if (!tls && !o.allow_plaintext && !info.safe_without_tls) {
            refused_by_policy = true;
            continue;
        }
        if (best == nullptr || before(info, *best)) best = &info;
    }
    if (best == nullptr)
        return refused_by_policy ? errc::insecure_authentication : errc::mechanism_unavailable;
    chosen = best->method;
    return {};
}

/// APOP name digest (RFC 1939 section 7), then CAPA again.
class apop_op final : public capa_tail_op {
public:
    apop_op(std::string user, std::string password)
        : user_(std::move(user)), password_(std::move(password))
    {
    }
    apop_op(apop_op&&) = default;
    ~apop_op() override { cleanse(password_); }
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization)};
    }

    step next(protocol& p, std::string& out) override
    {
        if (error()) return step::finished();
        switch (phase_) {
        case phase::start: break;
        case phase::sent: return step::wait();
        case phase::logged_in: return capa(p, out);
        }
        const auto& stamp = p.greeting().apop_timestamp;
        auto digest = stamp.empty() ? std::string() : sasl::apop_digest(stamp, password_);
        cleanse(password_);
        // No timestamp in the greeting, or no MD5 in this OpenSSL (FIPS): no APOP.
        if (digest.empty()) {
            fail(errc::mechanism_unavailable);
            return step::finished();
        }
        if (auto ec = commands::apop(out, user_, digest)) {
            fail(ec);
            return step::finished();
        }
        phase_ = phase::sent;
        return step::secret_command(response_kind::single_line, 5 + user_.size());
    }

private:
    error_code on_command_reply(protocol& p, const server_reply& reply) override
    {
        if (!reply.ok()) {
            fail(login_error(reply));
            return {};
        }
        p.set_state(session_state::transaction);
        phase_ = phase::logged_in;
        return {};
    }

    enum class phase { start, sent, logged_in } phase_ = phase::start;
    std::string user_;
    std::string password_;
};

/// AUTH with a SASL mechanism (RFC 5034), then CAPA again.
class sasl_op final : public capa_tail_op {
public:
    /// `advertised`: the server listed the mechanism. If it did not (a forced method, a
    /// server without CAPA), the initial response waits for the server's "+": a server
    /// that rejects the AUTH command then never sees a credential, and the rejection is
    /// reported as such (`auth_command_rejected`), not as refused credentials.
    sasl_op(std::unique_ptr<sasl::mechanism> mechanism, bool advertised)
        : mechanism_(std::move(mechanism)), advertised_(advertised)
    {
    }
    sasl_op(sasl_op&&) = default;
    ~sasl_op() override
    {
        cleanse(pending_initial_);
        cleanse(response_);
    }
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization)};
    }

    step next(protocol& p, std::string& out) override
    {
        switch (phase_) {
        case phase::start: return start(out);
        case phase::exchange:
            if (!response_due_) return step::wait();
            response_due_ = false;
            credential_sent_ = true;
            commands::auth_response(out, response_);
            cleanse(response_);
            return step::secret_command(response_kind::sasl, 0);
        case phase::capa: return capa(p, out);
        case phase::done: break;
        }
        return step::finished();
    }

private:
    error_code on_command_reply(protocol& p, const server_reply& reply) override
    {
        switch (reply.status) {
        case reply_status::continuation:
            // After "*" the server must answer -ERR (RFC 5034 section 4); anything else
            // means it is not following the exchange.
            if (aborted_) return errc::malformed_response;
            answer(reply.text);
            return {};
        case reply_status::ok:
            if (aborted_) return errc::malformed_response;
            if (auto ec = mechanism_->finish()) {
                // The server let us in but did not prove who it is: do not use this
                // session for anything.
                fail(ec);
                p.set_state(session_state::broken);
                phase_ = phase::done;
                return {};
            }
            p.set_state(session_state::transaction);
            phase_ = phase::capa;
            return {};
        case reply_status::err:
            fail(aborted_ ? abort_error_ : rejection(reply));
            p.set_error_detail(mechanism_->diagnostic());
            phase_ = phase::done;
            return {};
        }
        return {};
    }

    /// -ERR before any credential was exchanged refuses the command (or the mechanism),
    /// not a password (RFC 5034 section 4; popa3d answers a bare "-ERR"). A response code
    /// ([AUTH], [SYS/TEMP], ...) says more and wins.
    error_code rejection(const server_reply& reply) const
    {
        const auto ec = login_error(reply);
        if (!credential_sent_ && ec == errc::authentication_failed && reply.code.text.empty())
            return errc::auth_command_rejected;
        return ec;
    }

    step start(std::string& out)
    {
        const std::string name(mechanism_->name());
        if (auto ec = mechanism_->validate()) {
            fail(ec);
            phase_ = phase::done;
            return step::finished();
        }
        std::string initial;
        if (mechanism_->client_first()) {
            std::string raw;
            if (auto ec = mechanism_->initial_response(raw)) {
                cleanse(raw);
                fail(ec);
                phase_ = phase::done;
                return step::finished();
            }
            // RFC 4422 section 3: an empty initial response is sent as "=".
            initial = raw.empty() ? std::string("=") : sasl::base64_encode(raw);
            cleanse(raw);
        }
        // RFC 5034 section 4: the initial response goes on the AUTH line only if that
        // line stays within 255 octets; otherwise it follows the server's empty challenge.
        const auto line_length = 5 + name.size() + 1 + initial.size() + 2;
        error_code ec;
        if (!initial.empty() && line_length <= 255 && advertised_) {
            ec = commands::auth(out, name, initial);
            credential_sent_ = true;
        } else {
            ec = commands::auth(out, name);
            pending_initial_ = std::move(initial);
        }
        cleanse(initial);
        if (ec) {
            fail(ec);
            phase_ = phase::done;
            return step::finished();
        }
        phase_ = phase::exchange;
        return step::secret_command(response_kind::sasl, 5 + name.size());
    }

    void answer(const std::string& challenge_b64)
    {
        response_due_ = true;
        if (!pending_initial_.empty()) {
            response_ = std::move(pending_initial_);
            pending_initial_.clear();
            return;
        }
        std::string challenge;
        std::string raw;
        error_code ec;
        if (!sasl::base64_decode(challenge_b64, challenge)) ec = errc::sasl_protocol_error;
        else ec = mechanism_->respond(challenge, raw);
        if (ec) {
            // RFC 5034 section 4: "*" cancels the exchange; the server answers -ERR.
            aborted_ = true;
            abort_error_ = ec;
            response_ = "*";
        } else {
            response_ = sasl::base64_encode(raw);
        }
        cleanse(raw);
    }

    enum class phase { start, exchange, capa, done } phase_ = phase::start;
    std::unique_ptr<sasl::mechanism> mechanism_;
    std::string pending_initial_;
    std::string response_;
    bool advertised_;
    bool credential_sent_ = false; ///< an initial response or a response went out
    bool response_due_ = false;
    bool aborted_ = false;
    error_code abort_error_;
};

/// Logs in with the method the options ask for (or the strongest allowed), enforcing
/// the plaintext policy before a single byte of a credential is written.
class login_op final : public operation {
public:
    login_op(std::string user, std::string secret, login_options options, bool secret_is_token)
        : user_(std::move(user)), secret_(std::move(secret)), options_(std::move(options)),
          token_(secret_is_token)
    {
    }
    login_op(login_op&&) = default;
    ~login_op() override { cleanse(secret_); }
    requirements required() const noexcept override
    {
        return {in_state(session_state::authorization)};
    }

    step next(protocol& p, std::string& out) override
    {
        if (!inner_) {
            if (auto ec = select(p)) {
                fail(ec);
                return step::finished();
            }
        }
        const auto s = inner_->next(p, out);
        if (s.what == step::kind::finished) fail(inner_->error());
        return s;
    }
    /// As the chosen method says (known after the first step).
    bool pipelinable() const noexcept override { return inner_ && inner_->pipelinable(); }
    error_code on_reply(protocol& p, const server_reply& reply) override
    {
        return inner_->on_reply(p, reply);
    }
    error_code on_line(protocol& p, std::string_view line) override
    {
        return inner_->on_line(p, line);
    }
    error_code on_end(protocol& p) override { return inner_->on_end(p); }

    /// The method that was used (after the call).
    auth_method method() const noexcept { return method_; }

private:
    error_code select(protocol& p)
    {
        // No credential may carry a line break or NUL, whatever the method encodes it as:
        // such a value is a mistake or an injection attempt, never a real password.
        if (has_line_breaking(user_) || has_line_breaking(secret_) ||
            has_line_breaking(options_.authzid))
            return errc::invalid_argument;
        // OAUTHBEARER names the server as the client reached it (RFC 7628 section 3.1).
        if (options_.host.empty()) options_.host = p.server().host;
        if (options_.port.empty()) options_.port = p.server().service;
        method_ = options_.method;
        if (method_ == auth_method::automatic) {
            if (auto ec = choose_method(p, options_, token_, method_)) return ec;
        } else if (!p.tls_active() && !options_.allow_plaintext && !safe_without_tls(method_)) {
            return errc::insecure_authentication;
        } else if (find_auth_method(method_)->sasl && p.caps_known() && !p.caps().entries.empty() &&
                   !offered(method_, p)) {
            // The server listed what it can do, and this SASL mechanism is not among it: do
            // not send credentials it cannot use (servers answer "-ERR Not implemented").
            return errc::mechanism_unavailable;
        }
        std::unique_ptr<sasl::mechanism> mechanism;
        if (method_ == auth_method::user) inner_ = std::make_unique<user_pass_op>(user_, secret_);
        else if (method_ == auth_method::apop) inner_ = std::make_unique<apop_op>(user_, secret_);
        else if (!(mechanism = sasl::make_mechanism(method_, user_, secret_, options_)))
            return errc::mechanism_unavailable;
        cleanse(secret_);
        if (mechanism)
            inner_ = std::make_unique<sasl_op>(std::move(mechanism), offered(method_, p));
        return {};
    }

    std::string user_;
    std::string secret_;
    login_options options_;
    bool token_;
    auth_method method_ = auth_method::automatic;
    std::unique_ptr<operation> inner_;
};

} // namespace pop3::detail

#endif // POP3_DETAIL_AUTH_OPERATIONS_HPP
