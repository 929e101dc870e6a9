// The ingest thread: runs the source of events, the IngestServer
// (stream/ingest_server.h) or with --nats the JetStreamSource
// (stream/jetstream_source.h), from construction until stop_and_join(),
// which makes it stop taking events, answer (acknowledge) every batch it
// took once the workers applied it, and return.
//
// Owned by the control thread, which starts it after start-up and stops it
// first in the shutdown sequence. The destructor stops it too, so that an
// exception on the control thread never leaves it running.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

#include "stream/ingest_server.h"
#include "stream/jetstream_source.h"

namespace tally::daemon {

class IngestThread {
 public:
  explicit IngestThread(stream::IngestServer& server)
      : late_refusals_([&server] { server.record_late_refusals(); }),
        thread_([this, &server] { server.run(stop_); }) {}
  explicit IngestThread(stream::JetStreamSource& source)
      : late_refusals_([&source] { source.record_late_refusals(); }),
        thread_([this, &source] { source.run(stop_); }) {}
  ~IngestThread() { stop_and_join(); }
  IngestThread(const IngestThread&) = delete;
  IngestThread& operator=(const IngestThread&) = delete;

  void stop_and_join() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  // Once stopped and the workers too: what they refused since (the source's
  // record_late_refusals), on the caller's thread.
  void record_late_refusals() {
    stop_and_join();
    late_refusals_();
  }

 private:
  std::function<void()> late_refusals_;
  std::atomic<bool> stop_{false};  // declared before thread_: set up before it runs
  std::thread thread_;
};

}  // namespace tally::daemon
