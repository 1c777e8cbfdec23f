#include "daemon/group_commit.h"

#include <boost/asio/post.hpp>

namespace trellis {

struct GroupCommit::Round {
  explicit Round(net::asio::io_context& io) : done(io.get_executor()) {}
  Batch batch;
  net::Signal done;
  std::optional<Status> result;  // set by flush()
};

GroupCommit::GroupCommit(net::asio::io_context& io, Replica& replica,
                         std::function<void()> committed)
    : io_(io), replica_(replica), committed_(std::move(committed)) {}

net::awaitable<Status> GroupCommit::put(std::string key, Bytes value) {
  std::vector<Write> writes;
  writes.push_back({std::move(key), std::move(value)});
  return write_all(std::move(writes));
}

net::awaitable<Status> GroupCommit::remove(std::string key) {
  std::vector<Write> writes;
  writes.push_back({std::move(key), std::nullopt});
  return write_all(std::move(writes));
}

net::awaitable<Status> GroupCommit::write_all(std::vector<Write> writes) {
  if (!open_) {
    open_ = std::make_shared<Round>(io_);
    net::asio::post(io_, [this] { flush(); });
  }
  std::shared_ptr<Round> round = open_;
  // Checked first, so that a bad write adds nothing of the others.
  Batch mine;
  for (const auto& w : writes) {
    Status added = w.value ? mine.put(w.key, *w.value) : mine.remove(w.key);
    if (!added) co_return added;
  }
  for (const auto& w : writes) {
    Status added = w.value ? round->batch.put(w.key, *w.value) : round->batch.remove(w.key);
    if (!added) co_return added;
  }
  counters_.writes += writes.size();
  while (!round->result) co_await round->done.wait();
  co_return *round->result;
}

void GroupCommit::flush() {
  std::shared_ptr<Round> round = std::move(open_);
  open_.reset();
  if (round->batch.empty()) {
    round->result = Status::ok();
  } else {
    auto cid = replica_.commit(round->batch);
    round->result = cid ? Status::ok() : cid.status();
    ++counters_.rounds;
    if (cid && !cid->empty() && committed_) committed_();
  }
  round->done.notify();
}

}  // namespace trellis
