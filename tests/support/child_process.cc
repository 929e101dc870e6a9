#include "tests/support/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace tally::testing {
namespace {

using Clock = std::chrono::steady_clock;

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

[[noreturn]] void fail_to_start(const std::string& what, int error) {
  const std::string message = what + ": " + std::strerror(error);
  ADD_FAILURE() << message;
  throw std::runtime_error(message);
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, Stderr stderr_mode) {
  // O_CLOEXEC: a program another thread starts at the same moment must not
  // inherit these ends, or our reader would never see the output end.
  int output[2];
  int wake[2];
  if (::pipe2(output, O_CLOEXEC) != 0) fail_to_start("pipe2", errno);
  if (::pipe2(wake, O_CLOEXEC) != 0) fail_to_start("pipe2", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO);
  if (stderr_mode == Stderr::kWithStdout) {
    posix_spawn_file_actions_adddup2(&actions, output[1], STDERR_FILENO);
  }
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(output[1]);
  if (spawned != 0) {
    ::close(output[0]);
    ::close(wake[0]);
    ::close(wake[1]);
    pid_ = -1;
    fail_to_start("cannot start " + argv[0], spawned);
  }
  // -1 (a kernel without pidfds): wait() then polls waitpid.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  wake_reader_[0] = wake[0];
  wake_reader_[1] = wake[1];
  reader_ = std::thread([this, fd = output[0]] {
    read_output(fd, wake_reader_[0]);
    ::close(fd);
  });
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) kill();
  if (reader_.joinable()) {
    // A program that left a child holding the pipe would keep the output
    // open: the reader stops at once either way.
    const char stop = 1;
    (void)!::write(wake_reader_[1], &stop, 1);
    reader_.join();
  }
  for (const int fd : wake_reader_) {
    if (fd >= 0) ::close(fd);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

void ChildProcess::read_output(int fd, int stop_fd) {
  pollfd items[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  char chunk[4096];
  while (true) {
    if (::poll(items, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (items[1].revents != 0) break;  // the owner is going: stop reading
    if (items[0].revents == 0) continue;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mutex_);
    output_.append(chunk, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  output_end_ = true;
  changed_.notify_all();
}

std::optional<std::string> ChildProcess::wait_for_line(
    const std::function<bool(std::string_view)>& match, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mutex_);
  std::size_t scanned = 0;  // lines before this offset were looked at
  while (true) {
    for (std::size_t end; (end = output_.find('\n', scanned)) != std::string::npos;) {
      const std::string_view line(output_.data() + scanned, end - scanned);
      scanned = end + 1;
      if (match(line)) return std::string(line);
    }
    if (output_end_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

std::string ChildProcess::output() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return output_;
}

bool ChildProcess::wait_for_output_end(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return output_end_; });
}

void ChildProcess::send_signal(int signal) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, signal);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = exit_code_of(status);
      return exit_code_;
    }
    if (done < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid " << pid_ << ": " << std::strerror(errno);
      return std::nullopt;
    }
    const int left = milliseconds_until(deadline);
    if (left == 0) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd item{pidfd_, POLLIN, 0};
      (void)::poll(&item, 1, left);  // readable once the process has exited
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(left, 5)));
    }
  }
}

int ChildProcess::kill() {
  send_signal(SIGKILL);
  const std::optional<int> code = wait(std::chrono::minutes(1));
  EXPECT_TRUE(code.has_value()) << "pid " << pid_ << " outlived SIGKILL by a minute";
  return code.value_or(-1);
}

ProgramResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ChildProcess child(argv);
  ProgramResult result;
  const std::optional<int> code = child.wait(timeout);
  if (code) {
    result.exit_code = *code;
  } else {
    ADD_FAILURE() << argv[0] << " still ran after " << timeout.count() << " ms: killed";
    child.kill();
  }
  child.wait_for_output_end(std::chrono::seconds(10));
  result.output = child.output();
  return result;
}

}  // namespace tally::testing
