// pop3-fetch: a one-line progress bar on stderr, only when stderr is a terminal.
#ifndef POP3_FETCH_PROGRESS_HPP
#define POP3_FETCH_PROGRESS_HPP

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/ioctl.h>
#include <unistd.h>

namespace pop3_fetch {

/// "1.2 MiB" style sizes.
inline std::string human_bytes(double bytes)
{
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    char buf[32];
    if (unit == 0) std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[unit]);
    else std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[unit]);
    return buf;
}

/// "m:ss" or "h:mm:ss".
inline std::string human_duration(double seconds)
{
    if (seconds < 0) seconds = 0;
    const auto s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

/// Messages done, bytes, rate and time left, redrawn at most 10 times a second.
/// Does nothing at all unless enabled (stderr is a TTY and the user did not ask for quiet,
/// JSON or a trace).
class progress_bar {
public:
    using clock = std::chrono::steady_clock;

    explicit progress_bar(bool enabled) : enabled_(enabled) {}

    /// True when stderr is a terminal (and TERM is not "dumb").
    static bool stderr_is_terminal()
    {
        if (::isatty(STDERR_FILENO) != 1) return false;
        const char* term = std::getenv("TERM");
        return term == nullptr || std::string(term) != "dumb";
    }

    bool enabled() const noexcept { return enabled_; }

    void start(std::uint32_t messages, std::uint64_t bytes)
    {
        total_messages_ = messages;
        total_bytes_ = bytes;
        start_ = clock::now();
        last_draw_ = clock::time_point{};
        draw(true);
    }

    /// Messages finished and bytes received so far (pop3::fetch_progress).
    void update(std::uint32_t messages, std::uint64_t bytes)
    {
        messages_ = messages;
        bytes_ = bytes;
        draw(false);
    }

    /// Removes the bar, so that the summary starts on a clean line.
    void finish()
    {
        if (!enabled_ || !drawn_) return;
        std::fputs("\r\033[K", stderr);
        std::fflush(stderr);
        drawn_ = false;
    }

private:
    static int terminal_width()
    {
        winsize ws{};
        if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
        return 80;
    }

    void draw(bool force)
    {
        if (!enabled_) return;
        const auto now = clock::now();
        if (!force && now - last_draw_ < std::chrono::milliseconds(100) &&
            messages_ != total_messages_)
            return;
        last_draw_ = now;
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double rate = elapsed > 0.2 ? static_cast<double>(bytes_) / elapsed : 0.0;
        // LIST sizes count CRLF as the server stores it: only an estimate of what arrives.
        const double total = static_cast<double>(total_bytes_ > bytes_ ? total_bytes_ : bytes_);
        const double fraction =
            total > 0 ? static_cast<double>(bytes_) / total
                      : (total_messages_ ? static_cast<double>(messages_) / total_messages_ : 1.0);

        std::string text = " " + std::to_string(messages_) + "/" + std::to_string(total_messages_) +
                           " msgs  " + human_bytes(static_cast<double>(bytes_)) + " / " +
                           human_bytes(total);
        if (rate > 0) {
            text += "  " + human_bytes(rate) + "/s";
            text += "  " + human_duration((total - static_cast<double>(bytes_)) / rate) + " left";
        }
        const int width = terminal_width();
        const int bar = width - static_cast<int>(text.size()) - 4;
        std::string line = "\r";
        if (bar >= 10) {
            const int filled = static_cast<int>(fraction * bar + 0.5);
            line += "[";
            line.append(static_cast<std::size_t>(filled), '#');
            line.append(static_cast<std::size_t>(bar - filled), '.');
            line += "]";
        }
        line += text;
        line += "\033[K";
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
        drawn_ = true;
    }

    bool enabled_;
    bool drawn_ = false;
    std::uint32_t total_messages_ = 0;
    std::uint64_t total_bytes_ = 0;
    std::uint32_t messages_ = 0;
    std::uint64_t bytes_ = 0;
    clock::time_point start_{};
    clock::time_point last_draw_{};
};

} // namespace pop3_fetch

#endif // POP3_FETCH_PROGRESS_HPP
