// The one way into Boost.Asio for net/ and daemon/: Boost 1.74's
// awaitable.hpp uses std::exchange without including <utility>, which g++ 12
// rejects in C++20 mode, so <utility> must come first. Include this header
// instead of any boost/asio header, and only from .cc files or headers of
// the I/O layer (never from crdt/ or sans-I/O net/ headers).
#pragma once

#include <utility>

// g++ 12 reports a false -Wmismatched-new-delete at the end of coroutines
// whose frames Asio allocates (its frame operator new/delete recycle memory
// through thread_info_base, and g++ pairs the inlined ::operator new with the
// frame's sized operator delete). Which functions it fires on depends on
// inlining, so it breaks -Werror builds at random (every ASan build of
// net/connection.cc, for one). Off for the rest of each file that includes
// this header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace trellis::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <class T = void>
using awaitable = asio::awaitable<T>;

// co_await with an error code instead of an exception.
inline auto with_ec(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

// A wake-up signal for coroutines on one thread: wait() suspends until
// notify() (or close()). Spurious wake-ups are allowed; waiters re-check
// their condition.
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& ex) : timer_(ex) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  awaitable<void> wait() {
    error_code ec;
    co_await timer_.async_wait(with_ec(ec));
  }
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace trellis::net
