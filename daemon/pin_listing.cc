#include "net/asio.h"  // first: Boost 1.74 needs <utility> before Asio

#include "daemon/pin_listing.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <thread>

#include "daemon/global_status.h"
#include "pinning/pin_json.h"

namespace trellis {

namespace asio = net::asio;

namespace {

// One page: its stored values as read (copied out of the read transaction),
// then its JSON lines once a worker has formatted them.
struct Page {
  Bytes values;
  std::vector<size_t> ends;  // where each value ends in `values`
  std::string text;
  std::atomic<bool> taken{false};  // by a worker, or by the io thread
  std::atomic<bool> done{false};

  // Formats the page unless someone else has taken it.
  void take() {
    if (taken.exchange(true, std::memory_order_acq_rel)) return;
    format();
    done.store(true, std::memory_order_release);
  }

  Page() {
    values.reserve(kPinPage * 256);
    ends.reserve(kPinPage);
  }

  void add(ByteView value) {
    values.insert(values.end(), value.begin(), value.end());
    ends.push_back(values.size());
  }

  void format() {
    pinning::Pin pin;
    text.reserve(ends.size() * 512);  // ~430 bytes of JSON per pin
    size_t begin = 0;
    for (size_t end : ends) {
      if (pinning::decode_pin_into(ByteView(values).subspan(begin, end - begin), pin)) {
        if (!text.empty()) text += '\n';
        pinning::append_pin_json(pin, text);
      }
      begin = end;
    }
  }
};

}  // namespace

struct PinLister::Impl {
  explicit Impl(size_t threads) : pool(threads), depth(4 * threads) {}
  asio::thread_pool pool;
  size_t depth;  // pages read ahead of the one being written
};

PinLister::PinLister(size_t threads) : impl_(std::make_unique<Impl>(std::max<size_t>(threads, 1))) {}

PinLister::~PinLister() { impl_->pool.join(); }

size_t PinLister::default_threads() {
  const size_t cores = std::thread::hardware_concurrency();  // 0: unknown
  return std::clamp<size_t>(cores > 1 ? cores - 1 : 1, 1, 4);
}

net::awaitable<void> PinLister::write(const pinning::PinSource& pins, http::Responder& r) {
  auto io = co_await asio::this_coro::executor;
  // Workers cancel this timer when a page is done; the coroutine waits on it.
  auto wake = std::make_shared<asio::steady_timer>(io);
  std::deque<std::shared_ptr<Page>> pages;
  std::string after;
  bool read_all = false;
  Status failed;
  for (;;) {
    while (!read_all && pages.size() < impl_->depth) {
      auto page = std::make_shared<Page>();
      size_t n = 0;
      Status st = pins.scan_stored(
          [&](std::string_view key, ByteView value) {
            page->add(value);
            if (++n < kPinPage) return true;
            after = key;
            return false;
          },
          after);
      if (!st) failed = st;
      read_all = !st || n < kPinPage;
      if (n == 0) break;
      asio::post(impl_->pool, [page, wake, io] {
        page->take();
        asio::post(io, [wake] { wake->cancel(); });
      });
      pages.push_back(std::move(page));
    }
    if (pages.empty()) break;
    // Rather than wait for the workers, the io thread formats the first
    // page no one has taken yet.
    for (auto& page : pages) {
      if (pages.front()->done.load(std::memory_order_acquire)) break;
      page->take();
    }
    while (!pages.front()->done.load(std::memory_order_acquire)) {
      net::error_code ec;
      wake->expires_at(asio::steady_timer::time_point::max());
      co_await wake->async_wait(net::with_ec(ec));
    }
    std::string text = std::move(pages.front()->text);
    pages.pop_front();
    // Pages still being formatted keep their own references.
    if (!text.empty() && !co_await r.item(std::move(text))) co_return;
  }
  if (!failed) co_return co_await r.end(failed.message(), 500);
  co_return co_await r.end_ok();
}

}  // namespace trellis
