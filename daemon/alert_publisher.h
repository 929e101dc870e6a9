// Tier-change alerts, from the workers to the alerts socket.
//
// Workers queue their alerts (scorer::Engine::drain_alerts); this publishes
// each on the PUB socket as two frames: the tier entered, then
//   {"subject":S,"from":T,"to":T,"score":N,"event":ID,"time":RFC3339,
//    "cause":"event"|"expiry"}
// A send never waits: a subscriber past its high-water mark loses alerts
// (PUB semantics), the workers never stall on it.
//
// Thread-safety: the control thread only (it drains the engine's alert
// queues, which have one consumer); the control loop calls it between
// requests and while a worker answers one, the shutdown sequence while it
// waits for each step.
#pragma once

#include <string>
#include <zmq.hpp>

#include "scorer/engine.h"

namespace tally::daemon {

// The JSON body of one alert (the second frame).
std::string alert_body(const scorer::Alert& alert);

class AlertPublisher {
 public:
  AlertPublisher(scorer::Engine& engine, zmq::socket_t& alerts)
      : engine_(engine), alerts_(alerts) {}

  // Publishes every alert the workers have queued.
  void publish_pending();

 private:
  scorer::Engine& engine_;
  zmq::socket_t& alerts_;
};

}  // namespace tally::daemon
