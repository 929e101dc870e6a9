#include "stream/ingest_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <zmq_addon.hpp>

#include "core/backoff.h"
#include "core/json_writer.h"
#include "core/zmq_poll.h"

namespace tally::stream {
namespace {

constexpr std::size_t kMaxBatchIdBytes = 64;

void add_relaxed(std::atomic<std::uint64_t>& counter, std::uint64_t amount) {
  // Single writer: a plain load and store, no locked read-modify-write.
  counter.store(counter.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
}

std::string last_endpoint(zmq::socket_t& socket) { return socket.get(zmq::sockopt::last_endpoint); }

}  // namespace

IngestServer::IngestServer(IngestOptions options, zmq::context_t& context, QueueMatrix& queues,
                           std::uint32_t producer, KeyGroupMap& groups,
                           const std::atomic<const EventTypeResolver*>& types,
                           std::atomic<std::int64_t>& event_clock,
                           std::vector<TicketQueue*> done_tickets, RefusalBox* refusals)
    : options_(std::move(options)),
      pull_(context, zmq::socket_type::pull),
      submit_(context, zmq::socket_type::router),
      pull_peers_(context, pull_, "ingest"),
      submit_peers_(context, submit_, "submit"),
      decoder_(options_.decoder),
      rejected_log_(options_.rejects),
      types_(types),
      event_clock_(event_clock) {
  router_ = std::make_unique<BatchRouter>(
      queues, producer, groups, std::move(done_tickets), counters_, rejected_log_,
      [this] { drain_done_tickets(); }, refusals);
}

IngestServer::~IngestServer() = default;

void IngestServer::bind() {
  for (auto* socket : {&pull_, &submit_}) {
    socket->set(zmq::sockopt::rcvhwm, options_.receive_high_water_mark);
    socket->set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
    socket->set(zmq::sockopt::linger, 0);
  }
  // An unroutable reply (client gone) is dropped by ZeroMQ, not an error.
  submit_.set(zmq::sockopt::router_mandatory, false);
  if (options_.secure_socket) {
    options_.secure_socket(pull_, false);
    options_.secure_socket(submit_, true);
  }
  auto bind_one = [](zmq::socket_t& socket, const std::string& endpoint, const char* what) {
    try {
      socket.bind(endpoint);
    } catch (const zmq::error_t& error) {
      throw std::runtime_error(
          fmt::format("cannot bind {} socket to {}: {}", what, endpoint, error.what()));
    }
    return last_endpoint(socket);
  };
  ingest_endpoint_ = bind_one(pull_, options_.ingest_bind, "ingest");
  submit_endpoint_ = bind_one(submit_, options_.submit_bind, "submit");
}

void IngestServer::run(const std::atomic<bool>& stop) {
  // The third item wakes the loop when a worker-count change has a route
  // wave for it (core/key_groups.h), so a change never waits for traffic.
  zmq::pollitem_t items[] = {
      {pull_.handle(), 0, ZMQ_POLLIN, 0},
      {submit_.handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, router_->wake_fd(), ZMQ_POLLIN, 0},
      pull_peers_.poll_item(),
      submit_peers_.poll_item(),
  };
  std::vector<zmq::message_t> frames;
  while (!stop.load(std::memory_order_relaxed)) {
    drain_done_tickets();
    router_->apply_route_changes();
    // Short timeout while acknowledgements are pending, so they go out
    // promptly; long otherwise, so an idle daemon is idle.
    const auto timeout = std::chrono::milliseconds(tickets_outstanding_ > 0 ? 1 : 50);
    if (const Result<int> ready = poll_sockets(items, timeout); !ready) {
      throw std::runtime_error("ingest sockets: " + ready.status().to_string());
    }
    // Drain what is ready, bounded, so neither socket starves the other.
    for (int round = 0; round < 64 && (items[0].revents & ZMQ_POLLIN); ++round) {
      zmq::message_t message;
      if (!pull_.recv(message, zmq::recv_flags::dontwait)) break;
      handle_pull_message(message);
    }
    for (int round = 0; round < 64 && (items[1].revents & ZMQ_POLLIN); ++round) {
      frames.clear();
      if (!zmq::recv_multipart(submit_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        break;
      }
      handle_submit_message(frames);
    }
    if (items[3].revents & ZMQ_POLLIN) pull_peers_.take(counters_.ingest_connections);
    if (items[4].revents & ZMQ_POLLIN) submit_peers_.take(counters_.submit_connections);
    flush_rejected();
  }
  // Stopped: take nothing new; answer what was taken once it is applied.
  Backoff backoff;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (tickets_outstanding_ > 0 && std::chrono::steady_clock::now() < deadline) {
    drain_done_tickets();
    backoff.pause();
  }
  flush_rejected();
}

void IngestServer::handle_pull_message(zmq::message_t& payload) {
  add_relaxed(counters_.messages, 1);
  router_->begin("ingest", nullptr);
  const std::uint32_t lines = decoder_.decode_batch(
      payload.to_string_view(), *types_.load(std::memory_order_acquire), *router_,
      options_.rights_of ? options_.rights_of(payload) : SenderRights{});
  add_relaxed(counters_.received, lines);
  router_->finish(event_clock_);
}

void IngestServer::handle_submit_message(std::vector<zmq::message_t>& frames) {
  // DEALER: [identity, batch id, payload]; REQ: [identity, "", batch id, payload].
  auto ticket = std::make_unique<BatchTicket>();
  std::size_t first = 1;
  if (frames.size() == 4 && frames[1].size() == 0) {
    ticket->req_envelope = true;
    first = 2;
  }
  ticket->client_identity = frames.empty() ? std::string() : frames[0].to_string();
  if (frames.size() != first + 2 || frames[first].size() > kMaxBatchIdBytes) {
    add_relaxed(counters_.bad_batches, 1);
    const std::string reason =
        frames.size() != first + 2
            ? fmt::format("expected 2 frames (batch id, NDJSON payload), got {}",
                          frames.size() - first)
            : fmt::format("batch id is {} bytes; at most {}", frames[first].size(),
                          kMaxBatchIdBytes);
    // Echoed so that the client can match the answer, but never more than a
    // valid id's length: a huge id is not sent back whole.
    if (frames.size() > first) {
      ticket->batch_id = frames[first].to_string().substr(0, kMaxBatchIdBytes);
    }
    std::string body;
    JsonWriter json(body);
    json.begin_object().key("error").begin_object();
    json.field("code", "bad_batch").field("message", reason).end_object().end_object();
    std::vector<zmq::const_buffer> reply;
    reply.push_back(zmq::buffer(ticket->client_identity));
    if (ticket->req_envelope) reply.push_back(zmq::const_buffer());
    reply.push_back(zmq::buffer(ticket->batch_id));
    reply.push_back(zmq::buffer(body));
    (void)zmq::send_multipart(submit_, reply, zmq::send_flags::dontwait);
    return;
  }
  add_relaxed(counters_.messages, 1);
  ticket->batch_id = frames[first].to_string();
  BatchTicket* raw = ticket.release();  // owned by the pipeline until answered
  router_->begin("submit", raw);
  const SenderRights rights =
      options_.rights_of ? options_.rights_of(frames[first + 1]) : SenderRights{};
  const std::uint32_t lines =
      decoder_.decode_batch(frames[first + 1].to_string_view(),
                            *types_.load(std::memory_order_acquire), *router_, rights);
  add_relaxed(counters_.received, lines);
  const std::uint32_t workers = router_->finish(event_clock_);
  ++tickets_outstanding_;
  if (workers == 0) {
    answer(*raw);
    return;
  }
  raw->pending_workers.store(workers, std::memory_order_relaxed);
  router_->end_ticket(*raw);
}

void IngestServer::drain_done_tickets() {
  router_->take_finished([this](BatchTicket& ticket) { answer(ticket); });
}

void IngestServer::answer(BatchTicket& ticket) {
  std::unique_ptr<BatchTicket> owned(&ticket);
  --tickets_outstanding_;
  std::string body;
  JsonWriter json(body);
  json.begin_object()
      .field("accepted", ticket.accepted.load(std::memory_order_acquire))
      .field("duplicates", ticket.duplicates.load(std::memory_order_acquire))
      .key("rejected")
      .begin_array();
  for (const BatchTicket::Rejection& rejection : ticket.rejected) {
    json.begin_object()
        .field("line", rejection.line)
        .field("reason", to_string(rejection.reason))
        .end_object();
  }
  json.end_array().end_object();
  std::vector<zmq::const_buffer> reply;
  reply.push_back(zmq::buffer(ticket.client_identity));
  if (ticket.req_envelope) reply.push_back(zmq::const_buffer());
  reply.push_back(zmq::buffer(ticket.batch_id));
  reply.push_back(zmq::buffer(body));
  // dontwait: a vanished client must not stall ingest; it will resend.
  if (zmq::send_multipart(submit_, reply, zmq::send_flags::dontwait)) {
    add_relaxed(counters_.acks_sent, 1);
  }
}

void IngestServer::flush_rejected() { rejected_log_.flush(); }

}  // namespace tally::stream
