#include "daemon/alert_publisher.h"

#include <array>
#include <zmq_addon.hpp>

#include "core/event_time.h"
#include "core/json_writer.h"

namespace tally::daemon {

std::string alert_body(const scorer::Alert& alert) {
  std::string body;
  JsonWriter json(body);
  json.begin_object()
      .field("subject", alert.subject.view())
      .field("from", alert.from)
      .field("to", alert.to)
      .field("score", alert.score)
      .field("event", alert.event_id.view())
      .field("time", format_rfc3339_ms(alert.time_ms))
      .field("cause", alert.by_expiry ? "expiry" : "event")
      .end_object();
  return body;
}

void AlertPublisher::publish_pending() {
  engine_.drain_alerts([this](const scorer::Alert& alert) {
    const std::string body = alert_body(alert);
    std::array<zmq::const_buffer, 2> frames = {zmq::buffer(alert.to), zmq::buffer(body)};
    (void)zmq::send_multipart(alerts_, frames, zmq::send_flags::dontwait);
  });
}

}  // namespace tally::daemon
