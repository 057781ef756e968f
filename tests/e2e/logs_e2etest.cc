// Logs end to end: a full run of the three services (apps with secrets and basic auth, a secret
// rotation, publishes, successful, retried, failed and gone deliveries, a refused call), then
// every line they wrote is read back: each one is a JSON object with time, level, service and
// msg; none holds a secret, a password, a token, the master key or a payload; lines about
// deliveries and apps carry their ids as fields.

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

struct LogLine {
  std::string file;
  std::string raw;
  nlohmann::json json;
};

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(LogsTest, EveryLineIsJsonWithIdsAndNoSecret) {
  Receiver receiver;
  receiver.Handle("/fail", Receiver::Answer(500));
  receiver.Handle("/gone", Receiver::Answer(410));
  auto bed = TestBed::Create("logs_e2e");
  ASSERT_TRUE(bed.ok()) << bed.status();
  Cluster* cluster = (*bed)->cluster.get();
  const std::string db_url = (*bed)->db->url();
  // Debug logs the most; the dashed flag spelling is the documented one.
  ASSERT_TRUE(cluster->StartAll({"video.ready"}, {"--log-level=debug"}).ok());
  const std::string token = cluster->admin_token();
  auto apps = v1::AppService::NewStub(cluster->subscription_channel());
  auto ingest = v1::IngestService::NewStub(cluster->ingest_channel());

  const std::string password = "pw-9c1e7d2b-never-logged";
  const std::string header_secret = "hdr-51f0aa3e-never-logged";
  auto create = [&](const std::string& path, bool with_auth) {
    v1::App app;
    app.set_tenant("logs");
    app.set_name("logs " + path);
    app.set_url(receiver.url(path));
    app.add_event_types("video.ready");
    app.mutable_retry()->add_delays()->set_seconds(1);  // x0.001 in these workers
    if (with_auth) {
      app.mutable_auth()->mutable_basic()->set_username("hookd");
      app.mutable_auth()->mutable_basic()->set_password(password);
      (*app.mutable_headers())["X-Api-Key"] = header_secret;
    }
    return cluster->CreateApp(app);
  };
  v1::App ok = create("/ok", true);
  v1::App fail = create("/fail", true);
  v1::App gone = create("/gone", false);
  std::vector<std::string> secrets = {ok.secret(), fail.secret(), gone.secret()};
  v1::RotateSecretRequest rotate;
  rotate.set_id(ok.id());
  v1::App rotated;
  ASSERT_TRUE(apps->RotateSecret(ClientContext(token).get(), rotate, &rotated).ok());
  secrets.push_back(rotated.secret());
  for (const auto& s : secrets) ASSERT_TRUE(absl::StartsWith(s, "whsec_")) << s;

  // Publish until all three apps are routed (ingest learns of them through its cache).
  const std::string marker = "payload-body-3e9b41c7";
  const std::string payload = "{\"note\":\"" + marker + "\",\"video_id\":\"v_1\"}";
  std::set<std::string> event_ids;
  ASSERT_TRUE(PollUntil([&] {
    v1::PublishRequest request;
    request.set_tenant("logs");
    request.set_event_type("video.ready");
    request.set_payload(payload);
    v1::PublishResponse response;
    if (!ingest->Publish(ClientContext(token).get(), request, &response).ok()) return false;
    event_ids.insert(response.event_id());
    return response.delivery_count() == 3;
  }));
  v1::PublishRequest request;
  request.set_tenant("logs");
  request.set_event_type("video.ready");
  request.set_payload(payload);
  v1::PublishResponse response;
  const std::string wrong_token = "wrong-token-77aa01";
  EXPECT_EQ(ingest->Publish(ClientContext(wrong_token).get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A string that is not UTF-8 does not parse (proto3): gRPC answers before any handler or
  // token check runs (README, "Limits"), with or without a token, and protobuf's complaint
  // is a JSON line like any other.
  v1::CreateAppRequest undecodable;
  undecodable.mutable_app()->set_tenant("logs");
  undecodable.mutable_app()->set_name("not utf-8 \xff");
  for (const std::string& bearer : {token, std::string("no-such-token")}) {
    v1::App out;
    grpc::Status status = apps->CreateApp(ClientContext(bearer).get(), undecodable, &out);
    // What gRPC 1.51's callback server answers when a request does not deserialize.
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
    EXPECT_EQ(status.error_message(), "");
  }

  // Every delivery final: ok succeeded, fail failed after a retry, gone failed (410).
  auto final_count = [&] {
    pqxx::connection conn(db_url);
    pqxx::work txn(conn);
    pqxx::row row =
        txn.exec1("SELECT count(*) FILTER (WHERE status IN (2, 4)), count(*) FROM delivery_view");
    return std::make_pair(row[0].as<int64_t>(), row[1].as<int64_t>());
  };
  ASSERT_TRUE(PollUntil(
      [&] {
        auto [done, all] = final_count();
        return all > 0 && done == all;
      },
      absl::Seconds(30)));
  std::vector<std::string> fail_deliveries;
  {
    pqxx::connection conn(db_url);
    pqxx::work txn(conn);
    for (const auto& row : txn.exec_params("SELECT id FROM delivery_view WHERE app_id = $1 AND"
                                           " status = 4",
                                           fail.id())) {
      fail_deliveries.push_back(row[0].as<std::string>());
    }
  }
  ASSERT_FALSE(fail_deliveries.empty());
  // The worker disabled the gone app; stopping ingest and the worker logs their shutdown.
  ASSERT_TRUE(PollUntil([&] {
    v1::GetAppRequest get;
    get.set_id(gone.id());
    v1::App out;
    return apps->GetApp(ClientContext(token).get(), get, &out).ok() && !out.active();
  }));
  cluster->StopWorker("w1");
  cluster->StopIngest();

  std::vector<std::string> forbidden = {password,    header_secret,           token,
                                        wrong_token, testing::kTestMasterKey, marker};
  for (const auto& s : secrets) {
    forbidden.push_back(s);
    forbidden.push_back(s.substr(6));  // the base64 key alone
  }
  const std::map<std::string, std::string> services = {{"subscription", "hookd-subscription"},
                                                       {"ingest", "hookd-ingest"},
                                                       {"worker-w1", "hookd-worker"}};
  const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical"};
  std::vector<LogLine> lines;
  for (const auto& [file, service] : services) {
    std::vector<std::string> raw = ReadLines(cluster->LogPath(file));
    EXPECT_GT(raw.size(), 2u) << file;
    for (const std::string& line : raw) {
      for (const std::string& secret : forbidden) {
        EXPECT_FALSE(absl::StrContains(line, secret))
            << file << " leaks " << secret << ": " << line;
      }
      nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(json.is_object()) << file << ": not a JSON object: " << line;
      ASSERT_TRUE(json.contains("time") && json["time"].is_string()) << line;
      EXPECT_TRUE(absl::EndsWith(json["time"].get<std::string>(), "Z")) << line;
      ASSERT_TRUE(json.contains("level") && json["level"].is_string()) << line;
      EXPECT_EQ(levels.count(json["level"]), 1u) << line;
      EXPECT_EQ(json["service"], service) << line;
      ASSERT_TRUE(json.contains("msg") && json["msg"].is_string()) << line;
      lines.push_back({file, line, std::move(json)});
    }
  }

  auto with_msg = [&](const std::string& file, const std::string& msg) {
    std::vector<nlohmann::json> out;
    for (const auto& l : lines) {
      if (l.file == file && l.json["msg"] == msg) out.push_back(l.json);
    }
    return out;
  };
  // Lines about deliveries carry delivery, event and app ids; every attempt has one.
  std::set<std::string> failed_logged;
  int attempts_logged = 0;
  for (const char* msg : {"delivery attempt", "delivery failed"}) {
    for (const auto& json : with_msg("worker-w1", msg)) {
      ++attempts_logged;
      ASSERT_TRUE(json.contains("delivery_id") && json.contains("event_id") &&
                  json.contains("app_id"))
          << json.dump();
      EXPECT_TRUE(absl::StartsWith(json["delivery_id"].get<std::string>(), "dlv_"));
      EXPECT_EQ(event_ids.count(json["event_id"]), 1u) << json.dump();
      EXPECT_TRUE(absl::StartsWith(json["app_id"].get<std::string>(), "app_"));
      if (json["msg"] == "delivery failed") {
        EXPECT_EQ(json["level"], "warn");
        if (json["app_id"] == fail.id()) failed_logged.insert(json["delivery_id"]);
      }
    }
  }
  pqxx::connection conn(db_url);
  pqxx::work txn(conn);
  EXPECT_EQ(attempts_logged, txn.exec1("SELECT count(*) FROM attempts")[0].as<int>());
  EXPECT_EQ(failed_logged, std::set<std::string>(fail_deliveries.begin(), fail_deliveries.end()));
  auto disabled = with_msg("worker-w1", "app disabled");
  ASSERT_EQ(disabled.size(), 1u);
  EXPECT_EQ(disabled[0]["app_id"], gone.id());
  // The control plane's audit lines name the app, not its secrets.
  std::set<std::string> created;
  for (const auto& json : with_msg("subscription", "app created")) created.insert(json["app_id"]);
  EXPECT_EQ(created, (std::set<std::string>{ok.id(), fail.id(), gone.id()}));
  auto rotations = with_msg("subscription", "app secret rotated");
  ASSERT_EQ(rotations.size(), 1u);
  EXPECT_EQ(rotations[0]["app_id"], ok.id());
  EXPECT_EQ(with_msg("subscription", "app disabled").size(), 1u);
  int from_protobuf = 0;
  for (const auto& l : lines) {
    if (l.file == "subscription" && l.json.value("source", "") == "protobuf") {
      ++from_protobuf;
      EXPECT_EQ(l.json["level"], "error") << l.raw;
      EXPECT_TRUE(absl::StrContains(l.json["msg"].get<std::string>(), "invalid UTF-8")) << l.raw;
    }
  }
  EXPECT_EQ(from_protobuf, 2);
}

}  // namespace
}  // namespace hookd::e2e
