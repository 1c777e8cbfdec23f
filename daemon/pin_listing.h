// The whole pinset as newline-delimited JSON, for GET /allocations. Pages of
// stored values are read on the io thread and turned into JSON on worker
// threads, several pages at once, then written in key order: one peer lists
// a large pinset about as fast as its cores format it, and the io thread
// only reads the store and writes the socket.
#pragma once

#include <cstddef>
#include <memory>

#include "daemon/http_server.h"
#include "pinning/tracker.h"

namespace trellis {

class PinLister {
 public:
  // `threads` workers (at least one), shared by every listing.
  explicit PinLister(size_t threads);
  // Waits for the pages being formatted; pages not yet begun are dropped.
  ~PinLister();
  PinLister(const PinLister&) = delete;
  PinLister& operator=(const PinLister&) = delete;

  // Streams every pin of `pins` as r.item()s and ends the stream; a store
  // error ends it with the error (as the X-Stream-Error trailer once lines
  // have gone out). Values that do not decode are skipped, as scan() does.
  net::awaitable<void> write(const pinning::PinSource& pins, http::Responder& r);

  // The worker count for this machine: one less than its cores (the io
  // thread formats pages too while it would wait), from 1 to 4.
  static size_t default_threads();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis
