// poll_sockets: a signal that interrupts the wait makes it return (0 ready),
// never throw; a timeout is a timeout; a ready socket is reported.
#include "core/zmq_poll.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace tally {
namespace {

extern "C" void count_signal(int) {}

TEST(PollSocketsTest, ASignalEndsTheWaitWithoutAnException) {
  // An asynchronous handler without SA_RESTART: the wait fails with EINTR, as
  // it did for tally-camera on SIGTERM (cppzmq's zmq::poll threw).
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  // A SignalWatcher test earlier in this process may have left it blocked.
  sigset_t usr1, mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &usr1, &mask), 0);

  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::pull);
  socket.bind("inproc://quiet");
  const pthread_t poller = ::pthread_self();
  std::atomic<bool> returned{false};
  // Signals until the poll has returned: one that lands before the wait
  // began is simply handled, the next interrupts it.
  std::thread sender([&] {
    while (!returned.load()) {
      ::pthread_kill(poller, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  Result<int> ready = 0;
  EXPECT_NO_THROW(ready = poll_sockets({&item, 1}, std::chrono::seconds(30)));
  returned = true;
  sender.join();
  ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  ::sigaction(SIGUSR1, &previous, nullptr);
  ASSERT_TRUE(ready) << ready.status().to_string();
  EXPECT_EQ(*ready, 0);
  EXPECT_EQ(item.revents, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(PollSocketsTest, TimeoutsAndReadySockets) {
  zmq::context_t context(1);
  zmq::socket_t pull(context, zmq::socket_type::pull);
  pull.bind("inproc://ready");
  zmq::socket_t push(context, zmq::socket_type::push);
  push.connect("inproc://ready");
  zmq::pollitem_t item{pull.handle(), 0, ZMQ_POLLIN, 0};
  Result<int> ready = poll_sockets({&item, 1}, std::chrono::milliseconds(10));
  ASSERT_TRUE(ready);
  EXPECT_EQ(*ready, 0);
  ASSERT_TRUE(push.send(zmq::str_buffer("x"), zmq::send_flags::none));
  ready = poll_sockets({&item, 1}, std::chrono::seconds(10));
  ASSERT_TRUE(ready);
  EXPECT_EQ(*ready, 1);
  EXPECT_NE(item.revents & ZMQ_POLLIN, 0);
}

TEST(PollSocketsTest, AClosedContextIsAStatusNotAnException) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::pull);
  socket.bind("inproc://closing");
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  std::thread closer([&] { context.shutdown(); });
  closer.join();
  Result<int> ready = 0;
  EXPECT_NO_THROW(ready = poll_sockets({&item, 1}, std::chrono::seconds(10)));
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.status().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace tally
