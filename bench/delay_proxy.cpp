// delay_proxy: a TCP forwarder that adds a fixed one-way delay in each direction, for
// latency benchmarks on loopback where `tc netem` is not available (issue 12).
//
//   delay_proxy --target HOST:PORT [--listen PORT] [--rtt-ms N] [--mbit N] [--quiet]
//
// Listens on 127.0.0.1:PORT (default 0: an ephemeral port) and prints, once listening,
//
//   listening 127.0.0.1 <port>
//
// on stdout. Each accepted connection is forwarded to the target. Every chunk read from one
// side is stamped with its arrival time and written to the other side RTT/2 later, in the
// order read (one FIFO of chunks and one steady_timer per direction), so a request/reply
// exchange through the proxy takes one RTT more than without it. A side's end of stream is
// forwarded the same way, as a shutdown of the sending half once everything read before it
// has been written (half-close is preserved; a reset read from one side is forwarded as an
// end of stream too). A failed write closes both sides.
//
// --mbit N caps each direction at N Mbit/s: a chunk leaves when the link has finished
// sending the previous ones at that rate (serialisation), then travels RTT/2. The cap is
// applied per chunk of up to 64 KiB, read as it arrives.
//
// Not the bottleneck: 64 KiB reads, no copy other than into the chunk, one thread, and up to
// 64 MiB queued per direction before it stops reading (so a 50 ms RTT still carries over
// 2 GB/s). bench_latency measures its overhead at 0 ms (METRIC proxy_overhead_0ms).
//
// When a connection ends (both directions closed), unless --quiet, prints one line:
//
//   connection <n> c2s_bytes <b> s2c_bytes <b> turns <t> c2s_chunks <k>
//
// turns counts the client's round trips: the times the client->server direction goes from
// idle to sending after the server has said something. "Idle" means every client byte read
// so far has been written to the server (the direction's queue is empty) and a server chunk
// has been written to the client since the client's last chunk. A client that waits for a
// reply before its next command makes one turn per command; a pipelining client that keeps
// sending while replies stream back does not, as long as its next write comes within RTT/2 of
// the previous one (it is still in the queue). Count with a non-zero RTT: at 0 ms the queue
// is always empty and every write after a reply counts.
//
// Runs until SIGTERM or SIGINT (then closes everything and exits 0).
#include <pop3/detail/asio.hpp>

#if defined(POP3_USE_BOOST_ASIO)
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#else
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace net = pop3::net;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t max_queued = 64 * 1024 * 1024; // per direction

struct settings {
    std::string target_host = "127.0.0.1";
    std::string target_port;
    unsigned short listen_port = 0;
    clock_type::duration one_way{0};
    double mbit = 0; // 0: no cap
    bool quiet = false;
};

struct chunk {
    clock_type::time_point due;
    std::vector<char> data; // empty: the end of the stream (shut down the sending half)
};

class connection;

/// One direction of a connection: reads `from`, queues stamped chunks, writes them to `to`
/// when due.
class direction {
public:
    direction(connection& owner, tcp::socket& from, tcp::socket& to, bool client_to_server)
        : owner_(owner), from_(from), to_(to), timer_(from.get_executor()),
          client_to_server_(client_to_server)
    {
    }

    void start() { read(); }
    bool done() const noexcept { return done_; }
    bool idle() const noexcept { return queue_.empty() && !writing_; }
    std::uint64_t bytes = 0;
    std::uint64_t chunks = 0;

    void cancel() { timer_.cancel(); }

private:
    void read();
    void enqueue(std::vector<char> data);
    void schedule();
    void write_front();

    connection& owner_;
    tcp::socket& from_;
    tcp::socket& to_;
    net::steady_timer timer_;
    std::deque<chunk> queue_;
    std::size_t queued_bytes_ = 0;
    bool client_to_server_;
    bool reading_ = false;
    bool read_ended_ = false;
    bool writing_ = false; // a timer wait or a write is in flight
    bool done_ = false;
    clock_type::time_point link_free_{}; // --mbit: when the link finishes what it has
};

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(tcp::socket client, const settings& s, unsigned long id)
        : client_(std::move(client)), server_(client_.get_executor()), settings_(s), id_(id),
          c2s_(*this, client_, server_, true), s2c_(*this, server_, client_, false)
    {
    }

    void start(const tcp::endpoint& target)
    {
        auto self = shared_from_this();
        server_.async_connect(target, [this, self](const pop3::error_code& ec) {
            if (ec) {
                std::fprintf(stderr, "delay_proxy: connect to target: %s\n", ec.message().c_str());
                close();
                return;
            }
            pop3::error_code ignored;
            client_.set_option(tcp::no_delay(true), ignored);
            server_.set_option(tcp::no_delay(true), ignored);
            c2s_.start();
            s2c_.start();
        });
    }

    const settings& config() const noexcept { return settings_; }
    std::shared_ptr<connection> self() { return shared_from_this(); }

    /// Called by a direction when it reads a client chunk: counts a turn (see the header).
    void client_chunk_read()
    {
        if (c2s_.idle() && server_spoke_) ++turns_;
        server_spoke_ = false;
    }
    /// Called by the server->client direction after writing a chunk to the client.
    void server_chunk_written() { server_spoke_ = true; }

    void direction_done()
    {
        if (c2s_.done() && s2c_.done()) close();
    }

    void close()
    {
        if (closed_) return;
        closed_ = true;
        c2s_.cancel();
        s2c_.cancel();
        pop3::error_code ignored;
        client_.close(ignored);
        server_.close(ignored);
        if (!settings_.quiet) {
            std::printf("connection %lu c2s_bytes %llu s2c_bytes %llu turns %lu c2s_chunks "
                        "%llu\n",
                        id_, static_cast<unsigned long long>(c2s_.bytes),
                        static_cast<unsigned long long>(s2c_.bytes), turns_,
                        static_cast<unsigned long long>(c2s_.chunks));
            std::fflush(stdout);
        }
    }
    bool closed() const noexcept { return closed_; }

private:
    tcp::socket client_;
    tcp::socket server_;
    const settings& settings_;
    unsigned long id_;
    direction c2s_;
    direction s2c_;
    unsigned long turns_ = 0;
    bool server_spoke_ = false;
    bool closed_ = false;
};

void direction::read()
{
    if (reading_ || read_ended_ || owner_.closed()) return;
    if (queued_bytes_ >= max_queued) return; // resumed by write_front once drained
    reading_ = true;
    auto buffer = std::make_shared<std::vector<char>>(read_size);
    from_.async_read_some(net::buffer(*buffer), [this, buffer, self = owner_.self()](
                                                    const pop3::error_code& ec, std::size_t n) {
        reading_ = false;
        if (owner_.closed()) return;
        if (ec) {
            // End of stream or reset: forwarded (after what came before) as a shutdown.
            read_ended_ = true;
            enqueue({});
            return;
        }
        buffer->resize(n);
        bytes += n;
        ++chunks;
        if (client_to_server_) owner_.client_chunk_read();
        enqueue(std::move(*buffer));
        read();
    });
}

void direction::enqueue(std::vector<char> data)
{
    const auto now = clock_type::now();
    auto leaves = now;
    const double mbit = owner_.config().mbit;
    if (mbit > 0 && !data.empty()) {
        const auto serialise = std::chrono::duration_cast<clock_type::duration>(
            std::chrono::duration<double>(static_cast<double>(data.size()) * 8.0 / (mbit * 1e6)));
        link_free_ = (link_free_ > now ? link_free_ : now) + serialise;
        leaves = link_free_;
    }
    queued_bytes_ += data.size();
    queue_.push_back(chunk{leaves + owner_.config().one_way, std::move(data)});
    if (!writing_) schedule();
}

void direction::schedule()
{
    if (queue_.empty() || owner_.closed()) return;
    writing_ = true;
    if (queue_.front().due <= clock_type::now()) {
        write_front();
        return;
    }
    timer_.expires_at(queue_.front().due);
    timer_.async_wait([this, self = owner_.self()](const pop3::error_code& ec) {
        if (ec || owner_.closed()) return;
        write_front();
    });
}

void direction::write_front()
{
    if (queue_.front().data.empty()) { // end of stream: shut down the sending half
        pop3::error_code ignored;
        to_.shutdown(tcp::socket::shutdown_send, ignored);
        queue_.clear();
        writing_ = false;
        done_ = true;
        owner_.direction_done();
        return;
    }
    // The front chunk and every chunk behind it that is due too (the timer fired late, or the
    // previous write took a while), up to 1 MiB, in one gathering write.
    const auto now = clock_type::now();
    std::vector<net::const_buffer> buffers;
    std::size_t batch_bytes = 0;
    for (const auto& c : queue_) {
        if (c.data.empty() || (!buffers.empty() && (c.due > now || batch_bytes >= 1024 * 1024)))
            break;
        buffers.push_back(net::buffer(c.data));
        batch_bytes += c.data.size();
    }
    const std::size_t batch = buffers.size();
    net::async_write(to_, buffers,
                     [this, batch, self = owner_.self()](const pop3::error_code& ec, std::size_t) {
                         if (owner_.closed()) return;
                         if (ec) { // the receiver is gone: nothing more can be delivered
                             owner_.close();
                             return;
                         }
                         for (std::size_t i = 0; i < batch; ++i) {
                             queued_bytes_ -= queue_.front().data.size();
                             queue_.pop_front();
                         }
                         writing_ = false;
                         if (!client_to_server_) owner_.server_chunk_written();
                         read(); // if it had stopped at max_queued
                         schedule();
                     });
}

class listener {
public:
    listener(net::io_context& ioc, const settings& s, tcp::endpoint target)
        : acceptor_(ioc), settings_(s), target_(std::move(target))
    {
        const tcp::endpoint local(net::ip::make_address("127.0.0.1"), s.listen_port);
        acceptor_.open(local.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(local);
        acceptor_.listen();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void accept()
    {
        acceptor_.async_accept([this](const pop3::error_code& ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted) return;
            if (!ec)
                std::make_shared<connection>(std::move(socket), settings_, ++count_)
                    ->start(target_);
            accept();
        });
    }

    void stop()
    {
        pop3::error_code ignored;
        acceptor_.close(ignored);
    }

private:
    tcp::acceptor acceptor_;
    const settings& settings_;
    tcp::endpoint target_;
    unsigned long count_ = 0;
};

[[noreturn]] void usage()
{
    std::fprintf(stderr, "usage: delay_proxy --target HOST:PORT [--listen PORT] [--rtt-ms N] "
                         "[--mbit N] [--quiet]\n");
    std::exit(2);
}

settings parse(int argc, char** argv)
{
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (arg == "--target") {
            const auto v = value();
            const auto colon = v.rfind(':');
            if (colon == std::string::npos) usage();
            s.target_host = v.substr(0, colon);
            s.target_port = v.substr(colon + 1);
        } else if (arg == "--listen") {
            s.listen_port = static_cast<unsigned short>(std::stoul(value()));
        } else if (arg == "--rtt-ms") {
            const double rtt = std::stod(value());
            if (rtt < 0) usage();
            s.one_way = std::chrono::duration_cast<clock_type::duration>(
                std::chrono::duration<double, std::milli>(rtt / 2));
        } else if (arg == "--mbit") {
            s.mbit = std::stod(value());
            if (s.mbit < 0) usage();
        } else if (arg == "--quiet") {
            s.quiet = true;
        } else {
            usage();
        }
    }
    if (s.target_port.empty()) usage();
    return s;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        const settings s = parse(argc, argv);
        net::io_context ioc(1);
        tcp::resolver resolver(ioc);
        const auto target = *resolver.resolve(s.target_host, s.target_port).begin();
        listener l(ioc, s, target.endpoint());
        net::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const pop3::error_code&, int) {
            l.stop();
            ioc.stop(); // open connections are dropped with the process
        });
        l.accept();
        std::printf("listening 127.0.0.1 %u\n", static_cast<unsigned>(l.port()));
        std::fflush(stdout);
        ioc.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "delay_proxy: %s\n", e.what());
        return 1;
    }
}
