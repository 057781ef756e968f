// hookd-worker end to end: real hookd-subscription, hookd-ingest and hookd-worker processes,
// real Postgres and Redis, and a real HTTP receiver in this process.

#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/signing.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

// One cluster for the suite; each test uses a tenant and receiver paths of its own.
class WorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = testing::TestDatabase::Create("worker_e2e");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    auto redis = testing::TestRedisOptions("worker_e2e");
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = new RedisOptions(*redis);
    cluster_ = new Cluster(db_->url(), redis_->url, redis_->key_prefix, redis_->partitions);
    ASSERT_TRUE(cluster_->StartSubscription().ok());
    auto types = v1::EventTypeService::NewStub(cluster_->subscription_channel());
    for (const char* name : {"video.ready", "render.failed"}) {
      v1::CreateEventTypeRequest request;
      request.mutable_event_type()->set_name(name);
      v1::EventType out;
      ASSERT_TRUE(
          types->CreateEventType(ClientContext(cluster_->admin_token()).get(), request, &out).ok());
    }
    ASSERT_TRUE(cluster_->StartIngest().ok());
    ASSERT_TRUE(cluster_->StartWorker("w1").ok());
    receiver_ = new Receiver();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    delete receiver_;
    if (redis_ != nullptr) (void)testing::DeleteKeys(*redis_);
    delete redis_;
    delete db_;
  }

  void SetUp() override { apps_ = v1::AppService::NewStub(cluster_->subscription_channel()); }

  const std::string& token() const { return cluster_->admin_token(); }

  // An app of `tenant` posting to receiver path `path`; `customize` adjusts it.
  v1::App CreateApp(const std::string& tenant, const std::string& path,
                    const std::function<void(v1::App&)>& customize = nullptr) {
    v1::CreateAppRequest request;
    v1::App* app = request.mutable_app();
    app->set_tenant(tenant);
    app->set_name("e2e " + path);
    app->set_url(receiver_->url(path));
    app->add_event_types("*");
    if (customize) customize(*app);
    request.set_skip_connection_test(true);
    v1::App out;
    grpc::Status status = apps_->CreateApp(ClientContext(token()).get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  v1::App GetApp(const std::string& id) {
    v1::GetAppRequest request;
    request.set_id(id);
    v1::App out;
    EXPECT_TRUE(apps_->GetApp(ClientContext(token()).get(), request, &out).ok());
    return out;
  }

  // Publishes until the event reaches `expected` apps (ingest routes from its cache, which
  // learns of a new app within milliseconds), and returns the event id.
  std::string Publish(const std::string& tenant, const std::string& payload, int expected = 1,
                      const std::string& type = "video.ready") {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type(type);
    request.set_payload(payload);
    return cluster_->PublishRouted(request, expected);
  }

  struct DeliveryRow {
    std::string id;
    int status = 0;
    int attempt_count = 0;
    int last_status_code = 0;
  };
  std::vector<DeliveryRow> Deliveries(const std::string& event_id) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    std::vector<DeliveryRow> rows;
    for (const auto& r :
         txn.exec_params("SELECT id, status, attempt_count, last_status_code FROM delivery_view"
                         " WHERE event_id = $1 ORDER BY id",
                         event_id)) {
      rows.push_back({r[0].as<std::string>(), r[1].as<int>(), r[2].as<int>(), r[3].as<int>()});
    }
    return rows;
  }

  // Waits until the single delivery of `event_id` has `status` (1 pending, 2 succeeded,
  // 3 retrying, 4 failed) and returns it.
  DeliveryRow WaitStatus(const std::string& event_id, int status,
                         absl::Duration timeout = absl::Seconds(20)) {
    DeliveryRow row;
    EXPECT_TRUE(PollUntil(
        [&] {
          auto rows = Deliveries(event_id);
          if (rows.size() != 1) return false;
          row = rows[0];
          return row.status == status;
        },
        timeout))
        << "delivery of " << event_id << " stayed at status " << row.status;
    return row;
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  static testing::TestDatabase* db_;
  static RedisOptions* redis_;
  static Cluster* cluster_;
  static Receiver* receiver_;
  std::unique_ptr<v1::AppService::Stub> apps_;
};

testing::TestDatabase* WorkerTest::db_ = nullptr;
RedisOptions* WorkerTest::redis_ = nullptr;
Cluster* WorkerTest::cluster_ = nullptr;
Receiver* WorkerTest::receiver_ = nullptr;

Receiver::Response Status(int status) {
  Receiver::Response response;
  response.status = status;
  return response;
}

std::string SecretKey(const std::string& secret) {
  auto key = DecodeSigningSecret(secret);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : "";
}

TEST_F(WorkerTest, HeadersBodyAuthAndSignatureArriveAsSpecified) {
  v1::App app = CreateApp("wire", "/wire", [](v1::App& a) {
    (*a.mutable_headers())["X-Tenant-Ref"] = "acme-42";
    a.mutable_auth()->mutable_basic()->set_username("hookd");
    a.mutable_auth()->mutable_basic()->set_password("s3cret pass");
  });
  const std::string payload = "{\"video_id\": \"v_1\", \"title\":\"\xC3\xA9t\xC3\xA9\"}";
  std::string event_id = Publish("wire", payload);
  ASSERT_TRUE(receiver_->WaitFor("/wire", 1));
  Receiver::Request got = receiver_->Received("/wire")[0];

  EXPECT_EQ(got.headers["content-type"], "application/json");
  EXPECT_EQ(got.headers["webhook-id"], event_id);
  EXPECT_EQ(got.headers["x-tenant-ref"], "acme-42");
  EXPECT_EQ(got.headers["authorization"], "Basic " + Base64Encode("hookd:s3cret pass"));
  EXPECT_TRUE(absl::StartsWith(got.headers["user-agent"], "hookd/"));
  int64_t timestamp = std::stoll(got.headers["webhook-timestamp"]);
  EXPECT_LE(std::abs(timestamp - absl::ToUnixSeconds(absl::Now())), 10);
  // The envelope with the payload embedded byte for byte.
  EXPECT_TRUE(absl::StartsWith(got.body, "{\"type\":\"video.ready\",\"timestamp\":\"")) << got.body;
  EXPECT_TRUE(absl::EndsWith(got.body, ",\"data\":" + payload + "}")) << got.body;
  // The signature verifies with the app's secret (an independent check: the receiver's view).
  EXPECT_TRUE(VerifyV1(SecretKey(app.secret()), event_id, timestamp, got.body,
                       got.headers["webhook-signature"]))
      << got.headers["webhook-signature"];
  EXPECT_FALSE(VerifyV1(SecretKey(NewSigningSecret()), event_id, timestamp, got.body,
                        got.headers["webhook-signature"]));

  DeliveryRow row = WaitStatus(event_id, 2);
  EXPECT_EQ(row.attempt_count, 1);
  EXPECT_EQ(row.last_status_code, 200);
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts WHERE delivery_id = '" + row.id +
                   "' AND status_code = 200 AND worker = 'w1'"),
            1);
}

TEST_F(WorkerTest, RawPayloadAndCompatSignatureHeader) {
  v1::App app = CreateApp("raw", "/raw", [](v1::App& a) {
    a.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
    a.set_compat_signature_header("X-Hub-Signature-256");
  });
  const std::string payload = R"({"render_id":"r_9",  "ok":true})";
  Publish("raw", payload);
  ASSERT_TRUE(receiver_->WaitFor("/raw", 1));
  Receiver::Request got = receiver_->Received("/raw")[0];
  EXPECT_EQ(got.body, payload);
  EXPECT_EQ(got.headers["x-hub-signature-256"],
            "sha256=" + HexEncode(HmacSha256(SecretKey(app.secret()), payload)));
}

TEST_F(WorkerTest, Ed25519SignaturesVerifyWithThePublicKey) {
  v1::App app = CreateApp("ed25519", "/ed25519",
                          [](v1::App& a) { a.set_signature(v1::SIGNATURE_SCHEME_V1A_ED25519); });
  ASSERT_TRUE(absl::StartsWith(app.public_key(), "whpk_"));
  std::string event_id = Publish("ed25519", R"({"n":1})");
  ASSERT_TRUE(receiver_->WaitFor("/ed25519", 1));
  Receiver::Request got = receiver_->Received("/ed25519")[0];
  EXPECT_TRUE(absl::StartsWith(got.headers["webhook-signature"], "v1a,"));
  int64_t ts = std::stoll(got.headers["webhook-timestamp"]);
  EXPECT_TRUE(
      VerifyV1a(app.public_key(), event_id, ts, got.body, got.headers["webhook-signature"]));
  EXPECT_FALSE(
      VerifyV1a(app.public_key(), event_id, ts, got.body + " ", got.headers["webhook-signature"]));
}

TEST_F(WorkerTest, DuringARotationBothSecretsSign) {
  v1::App app = CreateApp("rotate", "/rotate");
  v1::RotateSecretRequest rotate;
  rotate.set_id(app.id());
  rotate.mutable_grace_period()->set_seconds(3600);
  v1::App rotated;
  ASSERT_TRUE(apps_->RotateSecret(ClientContext(token()).get(), rotate, &rotated).ok());
  // The worker's cache learns of the rotation through WatchApps; wait until it signs with both.
  ASSERT_TRUE(PollUntil([&] {
    size_t before = receiver_->Received("/rotate").size();
    std::string event_id = Publish("rotate", R"({"n":1})");
    if (!receiver_->WaitFor("/rotate", before + 1)) return false;
    Receiver::Request got = receiver_->Received("/rotate").back();
    std::vector<std::string> signatures = absl::StrSplit(got.headers["webhook-signature"], ' ');
    if (signatures.size() != 2) return false;
    int64_t ts = std::stoll(got.headers["webhook-timestamp"]);
    // Each secret verifies on its own, as an old and a new receiver would check.
    EXPECT_TRUE(VerifyV1(SecretKey(app.secret()), event_id, ts, got.body, signatures[1]));
    EXPECT_TRUE(VerifyV1(SecretKey(rotated.secret()), event_id, ts, got.body, signatures[0]));
    return true;
  }));
}

TEST_F(WorkerTest, AFailureThenSuccessMakesTwoAttemptsWithOneWebhookId) {
  std::atomic<int> calls{0};
  receiver_->Handle("/flaky", [&](const Receiver::Request&) {
    Receiver::Response response;
    response.status = calls.fetch_add(1) == 0 ? 500 : 200;
    return response;
  });
  CreateApp("flaky", "/flaky");
  std::string event_id = Publish("flaky", R"({"n":1})");
  DeliveryRow row = WaitStatus(event_id, 2);
  EXPECT_EQ(row.attempt_count, 2);
  auto received = receiver_->Received("/flaky");
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].headers["webhook-id"], event_id);
  EXPECT_EQ(received[1].headers["webhook-id"], event_id);
  // The first attempt's event travelled on the stream, the retry's was read from Postgres: the
  // envelope (type, timestamp, data) must be byte-identical, or a receiver would see two events.
  EXPECT_EQ(received[0].body, received[1].body);
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts WHERE delivery_id = '" + row.id + "'"), 2);
  EXPECT_EQ(Scalar("SELECT status_code FROM attempts WHERE delivery_id = '" + row.id +
                   "' AND attempt = 1"),
            500);
  // The log says why each attempt failed or that none did.
  EXPECT_EQ(
      Scalar("SELECT error FROM attempts WHERE delivery_id = '" + row.id + "' AND attempt = 1"),
      static_cast<int>(v1::ATTEMPT_ERROR_HTTP_STATUS));
  EXPECT_EQ(
      Scalar("SELECT error FROM attempts WHERE delivery_id = '" + row.id + "' AND attempt = 2"),
      static_cast<int>(v1::ATTEMPT_ERROR_NONE));
}

TEST_F(WorkerTest, AttemptsRunOutIntoFailed) {
  receiver_->Handle("/down", [](const Receiver::Request&) { return Status(503); });
  CreateApp("down", "/down", [](v1::App& a) {
    // Three retries of 1 s, 2 s, 4 s: milliseconds with the worker's delay scale.
    auto* e = a.mutable_retry()->mutable_exponential();
    e->mutable_initial_delay()->set_seconds(1);
    e->set_multiplier(2);
    e->mutable_max_delay()->set_seconds(4);
    e->set_max_attempts(4);
  });
  std::string event_id = Publish("down", R"({"n":1})");
  DeliveryRow row = WaitStatus(event_id, 4);
  EXPECT_EQ(row.attempt_count, 4);
  EXPECT_EQ(row.last_status_code, 503);
  EXPECT_EQ(receiver_->Received("/down").size(), 4u);
}

TEST_F(WorkerTest, GoneDisablesTheAppAtOnce) {
  receiver_->Handle("/gone", [](const Receiver::Request&) { return Status(410); });
  v1::App app = CreateApp("gone", "/gone");
  std::string event_id = Publish("gone", R"({"n":1})");
  DeliveryRow row = WaitStatus(event_id, 4);
  EXPECT_EQ(row.attempt_count, 1);
  ASSERT_TRUE(PollUntil([&] { return !GetApp(app.id()).active(); }));
  EXPECT_TRUE(absl::StrContains(GetApp(app.id()).disabled_reason(), "410"));
}

TEST_F(WorkerTest, ConsecutiveFailedDeliveriesDisableTheApp) {
  receiver_->Handle("/broken", [](const Receiver::Request&) { return Status(500); });
  v1::App app = CreateApp("broken", "/broken", [](v1::App& a) {
    a.set_disable_after_failures(3);
    a.mutable_retry()->mutable_exponential()->mutable_initial_delay()->set_seconds(1);
    a.mutable_retry()->mutable_exponential()->set_multiplier(1);
    a.mutable_retry()->mutable_exponential()->mutable_max_delay()->set_seconds(1);
    a.mutable_retry()->mutable_exponential()->set_max_attempts(1);  // one attempt, then FAILED
  });
  for (int i = 0; i < 2; ++i) WaitStatus(Publish("broken", R"({"n":1})"), 4);
  EXPECT_TRUE(GetApp(app.id()).active());  // two failures: below the threshold
  EXPECT_EQ(GetApp(app.id()).failure_streak(), 2);
  WaitStatus(Publish("broken", R"({"n":3})"), 4);
  ASSERT_TRUE(PollUntil([&] { return !GetApp(app.id()).active(); }));
  EXPECT_TRUE(absl::StrContains(GetApp(app.id()).disabled_reason(), "3 consecutive failed"));
  // A disabled app's new deliveries are HELD (by ingest, or by the worker when ingest's cache
  // had not seen the change yet), not attempted.
  const std::string held = Publish("broken", R"({"n":4})");
  EXPECT_TRUE(PollUntil([&] {
    return Scalar("SELECT count(*) FROM delivery_view WHERE event_id = '" + held +
                  "' AND status = " + std::to_string(v1::HELD)) == 1;
  }));
}

TEST_F(WorkerTest, DeliveriesQueuedBeforeTheAppWasDisabledAreHeldNotAttempted) {
  v1::App app = CreateApp("held", "/held");
  // With no worker running, the delivery waits on its stream while the app is disabled.
  cluster_->StopWorker("w1");
  std::string event_id = Publish("held", R"({"n":1})");
  v1::DisableAppRequest disable;
  disable.set_id(app.id());
  v1::App out;
  ASSERT_TRUE(apps_->DisableApp(ClientContext(token()).get(), disable, &out).ok());
  ASSERT_TRUE(cluster_->StartWorker("w1").ok());
  // The worker takes the entry and holds the delivery: unfinished, never due, no attempt.
  ASSERT_TRUE(PollUntil([&] {
    return Scalar("SELECT count(*) FROM delivery_view WHERE event_id = '" + event_id +
                  "' AND status = " + std::to_string(v1::HELD)) == 1;
  }));
  EXPECT_TRUE(receiver_->Received("/held").empty());
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts a JOIN delivery_view d ON d.id = a.delivery_id"
                   " WHERE d.event_id = '" +
                   event_id + "'"),
            0);
}

TEST_F(WorkerTest, AHangingReceiverIsCutAtTheTimeout) {
  receiver_->Handle("/hang", [](const Receiver::Request&) {
    Receiver::Response response;
    response.delay = absl::Seconds(4);
    return response;
  });
  CreateApp("hang", "/hang", [](v1::App& a) {
    a.mutable_timeout()->set_seconds(1);
    a.mutable_retry()->mutable_exponential()->mutable_initial_delay()->set_seconds(1);
    a.mutable_retry()->mutable_exponential()->set_multiplier(1);
    a.mutable_retry()->mutable_exponential()->mutable_max_delay()->set_seconds(1);
    a.mutable_retry()->mutable_exponential()->set_max_attempts(1);
  });
  std::string event_id = Publish("hang", R"({"n":1})");
  DeliveryRow row = WaitStatus(event_id, 4);
  EXPECT_EQ(row.last_status_code, 0);
  pqxx::connection conn(db_->url());
  pqxx::work txn(conn);
  auto attempt =
      txn.exec_params1("SELECT error, duration_ms FROM attempts WHERE delivery_id = $1", row.id);
  EXPECT_EQ(attempt[0].as<int>(), static_cast<int>(v1::ATTEMPT_ERROR_TIMEOUT));
  EXPECT_GE(attempt[1].as<int>(), 900);
  EXPECT_LT(attempt[1].as<int>(), 2500);
}

TEST_F(WorkerTest, ARedirectIsAFailureAndIsNotFollowed) {
  receiver_->Handle("/moved", [&](const Receiver::Request&) {
    Receiver::Response response;
    response.status = 302;
    response.headers["Location"] = receiver_->url("/elsewhere");
    return response;
  });
  CreateApp("moved", "/moved");
  std::string event_id = Publish("moved", R"({"n":1})");
  ASSERT_TRUE(receiver_->WaitFor("/moved", 2));  // retried: a 3xx is not success
  EXPECT_TRUE(receiver_->Received("/elsewhere").empty());
  DeliveryRow row = Deliveries(event_id)[0];
  EXPECT_NE(row.status, 2);
  EXPECT_EQ(row.last_status_code, 302);
}

}  // namespace
}  // namespace hookd::e2e
