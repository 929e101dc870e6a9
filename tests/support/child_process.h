// A program the test starts, watches and stops, with a deadline on every wait.
//
// Started with posix_spawn, never fork: a test process has threads (ZeroMQ's,
// the readers here), and the child of a fork in a threaded process may only
// call async-signal-safe functions until it execs, so not even allocate.
// Its stdout (with stderr, unless kept apart) is read to the end by a thread
// of its own, so the program can never block on a full pipe however much it
// prints, before or after the line a test waited for. Its standard input is
// /dev/null.
//
// The exit is watched through a pidfd, so a wait for it sleeps in poll(2)
// until the exit or the deadline, whichever comes first.
//
// Thread-safety: output() and wait_for_line() may be called from any thread;
// the rest from the owning thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tally::testing {

class ChildProcess {
 public:
  enum class Stderr { kWithStdout, kInherited };

  // Starts argv[0] (a path) with the arguments. Fails the test and throws
  // std::runtime_error if it cannot be started.
  explicit ChildProcess(std::vector<std::string> argv, Stderr stderr_mode = Stderr::kWithStdout);
  // Kills the program if it still runs, reaps it, and stops the reader.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  bool exited() const noexcept { return exit_code_.has_value(); }

  // Waits until the program has printed a whole line for which `match` is
  // true, and returns it; nullopt if the timeout passes or the output ends
  // first. Looks at every line printed since the start.
  std::optional<std::string> wait_for_line(const std::function<bool(std::string_view)>& match,
                                           std::chrono::milliseconds timeout);
  // What the program printed so far.
  std::string output() const;
  // Waits until the output has ended (the program and every copy of the pipe
  // are gone); false on timeout. output() is then complete.
  bool wait_for_output_end(std::chrono::milliseconds timeout);

  void send_signal(int signal);
  // Waits for the program to exit: its exit code, 128 + N if signal N ended
  // it; nullopt if it still runs when the timeout passes.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGKILL, then the exit code (a killed program cannot refuse to exit).
  int kill();

 private:
  void read_output(int fd, int stop_fd);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int wake_reader_[2] = {-1, -1};  // a pipe the reader polls: a byte in it says stop reading
  std::optional<int> exit_code_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;       // guarded by mutex_
  bool output_end_ = false;  // guarded by mutex_
  std::thread reader_;
};

// A program run to its end.
struct ProgramResult {
  int exit_code = -1;  // -1: killed at the timeout
  std::string output;  // stdout and stderr together
};
ProgramResult run_program(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::minutes(2));

}  // namespace tally::testing
