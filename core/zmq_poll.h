// The one way Tally waits on ZeroMQ sockets: zmq_poll, safe against signals.
//
// cppzmq's zmq::poll throws zmq::error_t when the wait is interrupted by a
// signal (EINTR). A stop signal then tears through the caller as an exception
// ("Interrupted system call") instead of letting it stop cleanly: that was
// tally-camera exiting 2 without its summary on SIGTERM. poll_sockets returns
// instead, as if the wait had timed out, so that the caller looks at its stop
// flag and decides whether to wait again. Callers loop on their own deadline,
// never on the count of polls.
//
// Signals should not reach these threads at all (core/signal_watcher.h
// blocks them everywhere and takes them on one thread), but a process
// stopped and continued (SIGSTOP, SIGCONT) or a library that installs a
// handler can still interrupt a wait, so EINTR is handled here regardless.
//
// Errors other than EINTR (ETERM: the context was closed; EFAULT, EINVAL: a
// bug) come back as a failed Status, not an exception.
//
// Thread-safety: as zmq_poll: each socket polled only by its owning thread.
#pragma once

#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <span>
#include <string>
#include <zmq.hpp>

#include "core/status.h"

namespace tally {

// Waits at most `timeout` (negative: without limit) for the events asked for
// in `items`. The number of items with events; 0 when the timeout passed or
// a signal interrupted the wait.
inline Result<int> poll_sockets(std::span<zmq::pollitem_t> items,
                                std::chrono::milliseconds timeout) {
  const long wait_ms = timeout.count() < 0 ? -1 : static_cast<long>(timeout.count());
  const int ready = zmq_poll(items.data(), static_cast<int>(items.size()), wait_ms);
  if (ready >= 0) return ready;
  const int error = zmq_errno();
  if (error == EINTR) {
    for (zmq::pollitem_t& item : items) item.revents = 0;
    return 0;
  }
  // zmq_strerror, not strerror: ETERM is ZeroMQ's own number.
  return Status::unavailable(std::string("zmq_poll: ") + zmq_strerror(error));
}

}  // namespace tally
