#include "load.h"

#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/ingest.grpc.pb.h"

namespace hookd::e2e {

Publishers::Publishers(Options options, std::map<std::string, absl::Time> seed)
    : options_(std::move(options)), acknowledged_(std::move(seed)) {
  for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { Run(t); });
}

Publishers::~Publishers() { Stop(); }

void Publishers::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Publishers::Run(int thread) {
  size_t use = thread;
  for (int n = 0; !stop_.load(); ++n) {
    v1::PublishBatchRequest batch;
    for (int i = 0; i < options_.batch; ++i) {
      v1::PublishRequest* e = batch.add_events();
      e->set_tenant(options_.tenant);
      e->set_event_type(options_.event_type);
      e->set_payload(absl::StrCat(R"({"publisher":)", thread, R"(,"n":)", n, R"(,"i":)", i, "}"));
    }
    v1::PublishBatchResponse response;
    grpc::Status status =
        v1::IngestService::NewStub(options_.ingests[use % options_.ingests.size()])
            ->PublishBatch(testing::ClientContext(options_.token, absl::Seconds(5)).get(), batch,
                           &response);
    const absl::Time now = absl::Now();
    if (!status.ok()) {
      refused_ += batch.events_size();
      ++use;  // the next replica
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < response.results_size(); ++i) {
        if (response.errors_size() > i && response.errors(i).code() != 0) {
          ++refused_;
        } else {
          acknowledged_[response.results(i).event_id()] = now;
        }
      }
    }
    absl::SleepFor(options_.pause);  // the offered rate
  }
}

std::map<std::string, absl::Time> Publishers::Acknowledged() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acknowledged_;
}

int Publishers::AcknowledgedBetween(absl::Time from, absl::Time to) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [id, at] : acknowledged_) n += at >= from && at <= to;
  return n;
}

Tally TallyReceipts(const testing::Receiver& receiver, const std::vector<std::string>& paths,
                    const std::map<std::string, absl::Time>& events) {
  Tally tally;
  for (const std::string& path : paths) {
    std::map<std::string, std::string> body;  // webhook-id -> first body
    for (const auto& r : receiver.Received(path)) {
      ++tally.receipts;
      const std::string& id = r.headers.at("webhook-id");
      if (!body.emplace(id, r.body).second) {
        ++tally.duplicates;
        if (body[id] != r.body) ++tally.mismatched;
      }
    }
    for (const auto& [id, at] : events) tally.missing += body.count(id) == 0;
  }
  return tally;
}

LoadApps CreateLoadApps(Cluster& cluster, const testing::Receiver& receiver,
                        const std::string& tenant, const std::string& event_type,
                        const std::vector<std::string>& paths) {
  LoadApps apps;
  for (const std::string& path : paths) {
    v1::App app;
    app.set_tenant(tenant);
    app.set_name(tenant + " " + path);
    app.set_url(receiver.url(path));
    app.add_event_types(event_type);
    for (int i = 0; i < 8; ++i) app.mutable_retry()->add_delays()->set_seconds(1);
    apps.ids[path] = cluster.CreateApp(app).id();  // CreateApp fails the test on an error
    if (apps.ids[path].empty()) return apps;
  }
  v1::PublishRequest probe;
  probe.set_tenant(tenant);
  probe.set_event_type(event_type);
  probe.set_payload(R"({"probe":true})");
  apps.probe_id = cluster.PublishRouted(probe, static_cast<int>(paths.size()));
  return apps;
}

bool Restart(const std::string& what, const std::function<absl::Status()>& start) {
  return testing::PollUntil(
      [&] {
        absl::Status status = start();
        if (!status.ok()) {
          std::cerr << "  restarting " << what << " failed: " << status.message().substr(0, 300)
                    << "\n";
        }
        return status.ok();
      },
      absl::Minutes(1), absl::Seconds(1));
}

}  // namespace hookd::e2e
