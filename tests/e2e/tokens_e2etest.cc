// API tokens end to end, against running hookd-subscription (two replicas) and hookd-ingest:
// every RPC called by every role, with a token of the resource's tenant, of another tenant and of
// no tenant, answering the code README "Tokens and roles" documents, a refused call changing
// nothing; listings filtered to the token's tenant; revocations refused everywhere within a
// second; and no token, secret or header value in any table or log line.
//
// The expected codes are written out here from the README's table, not read from hookd's own.

#include <algorithm>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "cluster.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/audit.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "hookd/v1/token.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using grpc::StatusCode;
using testing::ClientContext;
using testing::PollUntil;

constexpr char kOwn[] = "acme";
constexpr char kOther[] = "globex";
// Endpoints of the apps: nothing listens there, and no worker runs.
constexpr char kUrl[] = "http://127.0.0.1:9/hook";

// Whose token makes a call: one of the resource's tenant, one of another tenant, one of every
// tenant (no tenant).
enum class Scope { kOwnTenant, kOtherTenant, kEveryTenant };

std::string ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kOwnTenant:
      return "own tenant";
    case Scope::kOtherTenant:
      return "other tenant";
    case Scope::kEveryTenant:
      return "no tenant";
  }
  return "";
}

const std::vector<v1::Role> kRoles = {v1::ROLE_ADMIN, v1::ROLE_MANAGER, v1::ROLE_PUBLISHER,
                                      v1::ROLE_VIEWER};

// One row of README's table: who may call, what a token of another tenant gets, and whether
// only a token of every tenant may call. `prepare` makes what the call acts on in `tenant` with
// the admin token and answers its id (or name); `call` makes the call with `token` on it.
struct Row {
  std::string rpc;
  std::set<v1::Role> roles;
  StatusCode other_tenant;
  bool every_tenant_only;
  std::function<std::string(const std::string& tenant)> prepare;
  std::function<grpc::Status(const std::string& token, const std::string& target)> call;
};

// A watch: OK once its first message arrives, else the stream's error.
grpc::Status FirstMessage(v1::AppService::Stub& stub, const std::string& token,
                          const v1::WatchAppsRequest& request) {
  auto context = ClientContext(token, absl::Seconds(5));
  auto reader = stub.WatchApps(context.get(), request);
  v1::WatchAppsResponse first;
  if (!reader->Read(&first)) return reader->Finish();
  context->TryCancel();
  reader->Finish();
  return grpc::Status::OK;
}

StatusCode Expected(const Row& row, v1::Role role, Scope scope) {
  if (row.roles.count(role) == 0) return StatusCode::PERMISSION_DENIED;
  if (row.every_tenant_only) {
    return scope == Scope::kEveryTenant ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
  }
  return scope == Scope::kOtherTenant ? row.other_tenant : StatusCode::OK;
}

class TokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bed = TestBed::Create("tokens_e2e");
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = std::move(*bed);
    cluster_ = bed_->cluster.get();
    ASSERT_TRUE(cluster_->StartSubscription().ok());
    ASSERT_TRUE(cluster_->CreateEventTypes({"video.ready", "app.changed"}).ok());
    ASSERT_TRUE(cluster_->StartIngest().ok());
    admin_ = cluster_->admin_token();
    apps_ = v1::AppService::NewStub(cluster_->subscription_channel());
    types_ = v1::EventTypeService::NewStub(cluster_->subscription_channel());
    deliveries_ = v1::DeliveryService::NewStub(cluster_->subscription_channel());
    tokens_ = v1::TokenService::NewStub(cluster_->subscription_channel());
    audit_ = v1::AuditService::NewStub(cluster_->subscription_channel());
    reflection_ =
        grpc::reflection::v1alpha::ServerReflection::NewStub(cluster_->subscription_channel());
    ingest_ = v1::IngestService::NewStub(cluster_->ingest_channel());
    subscriptions_ = {cluster_->subscription_channel()};
  }

  // An app of `tenant` made with the admin token; `subscribed` ones get the published events.
  v1::App NewApp(const std::string& tenant, bool subscribed = false) {
    v1::App app;
    app.set_tenant(tenant);
    app.set_name("app of " + tenant);
    app.set_url(kUrl);
    app.add_event_types(subscribed ? "video.ready" : "app.changed");
    (*app.mutable_headers())["Authorization"] = "Bearer receiver-" + std::to_string(++serial_);
    v1::App created = cluster_->CreateApp(app);
    app_secrets_.push_back(created.secret());
    header_values_.push_back(app.headers().at("Authorization"));
    return created;
  }

  // A token made with `by` (the admin token unless given); its text is in `secret`.
  v1::Token NewToken(v1::Role role, const std::string& tenant, const std::string& by = "") {
    v1::CreateTokenRequest request;
    request.mutable_token()->set_name("token " + std::to_string(++serial_));
    request.mutable_token()->set_role(role);
    request.mutable_token()->set_tenant(tenant);
    v1::Token token;
    grpc::Status status =
        tokens_->CreateToken(ClientContext(by.empty() ? admin_ : by).get(), request, &token);
    EXPECT_TRUE(status.ok()) << status.error_message();
    token_secrets_.push_back(token.secret());
    EXPECT_TRUE(AcceptedEverywhere(token.secret()));
    return token;
  }

  // Whether `secret` authenticates at hookd-ingest and at every hookd-subscription replica
  // (`subscriptions`, or the first one): each learns of a new token within its poll interval.
  bool AcceptedEverywhere(const std::string& secret) {
    return AnsweredEverywhere(secret, /*accepted=*/true, absl::Seconds(5));
  }

  // Whether every service accepts (or refuses, UNAUTHENTICATED) `secret` within `deadline`.
  bool AnsweredEverywhere(const std::string& secret, bool accepted, absl::Duration deadline) {
    std::vector<std::function<grpc::Status()>> probes;
    for (auto& channel : subscriptions_) {
      probes.push_back([channel, secret] {
        v1::ListEventTypesRequest request;
        v1::ListEventTypesResponse out;
        return v1::EventTypeService::NewStub(channel)->ListEventTypes(ClientContext(secret).get(),
                                                                      request, &out);
      });
    }
    probes.push_back([this, secret] {
      v1::GetEventRequest request;  // an unknown id: NOT_FOUND once authenticated
      request.set_id("evt_unknown");
      v1::Event out;
      return ingest_->GetEvent(ClientContext(secret).get(), request, &out);
    });
    return PollUntil(
        [&] {
          for (auto& probe : probes) {
            bool refused = probe().error_code() == StatusCode::UNAUTHENTICATED;
            if (refused == accepted) return false;
          }
          return true;
        },
        deadline, absl::Milliseconds(5));
  }

  grpc::Status Publish(const std::string& token, const std::string& tenant) {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type("video.ready");
    request.set_payload(R"({"video_id":"v_1"})");
    v1::PublishResponse response;
    return ingest_->Publish(ClientContext(token).get(), request, &response);
  }

  // Everything a call could change, as one text: apps, the catalog, tokens, events, deliveries.
  std::string Snapshot() {
    pqxx::connection conn(bed_->db->url());
    pqxx::work txn(conn);
    return txn
        .exec1(
            "SELECT concat_ws('|',"
            " (SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM apps),"
            " (SELECT string_agg(name || ':' || archived, ',' ORDER BY name) FROM event_types),"
            " (SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM api_tokens),"
            " (SELECT count(*) FROM events),"
            " (SELECT string_agg(id || ':' || status || ':' || update_time, ',' ORDER BY id)"
            "  FROM delivery_view),"
            " (SELECT string_agg(id, ',' ORDER BY id) FROM audit_events))")[0]
        .as<std::string>();
  }

  // The audit entries written after the entry `after_id` ("" for all), oldest first, as
  // "token_id action resource tenant" and the request id apart.
  struct Entry {
    std::string id, token_id, action, resource, tenant, request_id;
  };
  std::vector<Entry> AuditAfter(const std::string& after_id) {
    pqxx::connection conn(bed_->db->url());
    pqxx::work txn(conn);
    std::vector<Entry> entries;
    for (const auto& row : txn.exec_params(
             "SELECT id, token_id, action, resource, tenant, request_id FROM audit_events"
             " WHERE id > $1 ORDER BY id",
             after_id)) {
      entries.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                         row[2].as<std::string>(), row[3].as<std::string>(),
                         row[4].as<std::string>(), row[5].as<std::string>()});
    }
    return entries;
  }
  std::string LastAuditId() {
    auto all = AuditAfter("");
    return all.empty() ? "" : all.back().id;
  }

  // Fails the test for every token text, signing secret or header value found in a row of any
  // table or in a line of the services' logs (`logs`).
  void ExpectNoSecretAnywhere(const std::vector<std::string>& logs) {
    std::vector<std::string> forbidden;
    for (const auto* list : {&token_secrets_, &app_secrets_, &header_values_}) {
      for (const std::string& secret : *list) {
        if (!secret.empty()) forbidden.push_back(secret);
      }
    }
    for (const std::string& secret : app_secrets_) {
      if (absl::StartsWith(secret, "whsec_")) forbidden.push_back(secret.substr(6));
    }
    ASSERT_GE(forbidden.size(), 3u);  // a token, an app's secret and a header value at least
    pqxx::connection conn(bed_->db->url());
    pqxx::work txn(conn);
    int tables = 0;
    int64_t rows = 0;
    for (const auto& table : txn.exec("SELECT relname FROM pg_class WHERE relkind = 'r' AND"
                                      " relnamespace = 'public'::regnamespace")) {
      ++tables;
      const std::string name = table[0].as<std::string>();
      for (const auto& row : txn.exec("SELECT t::text FROM " + txn.quote_name(name) + " t")) {
        ++rows;
        const std::string text = row[0].as<std::string>();
        for (const std::string& secret : forbidden) {
          EXPECT_FALSE(absl::StrContains(text, secret)) << name << " holds " << secret;
        }
      }
    }
    EXPECT_GT(tables, 10);
    EXPECT_GT(rows, 10);
    for (const std::string& log : logs) {
      std::ifstream in(cluster_->LogPath(log));
      int lines = 0;
      for (std::string line; std::getline(in, line); ++lines) {
        for (const std::string& secret : forbidden) {
          EXPECT_FALSE(absl::StrContains(line, secret))
              << log << " leaks " << secret << ": " << line;
        }
      }
      EXPECT_GT(lines, 0) << log;
    }
  }

  // The rows of the table, each calling one RPC.
  std::vector<Row> Rows();

  std::unique_ptr<TestBed> bed_;
  Cluster* cluster_ = nullptr;
  std::string admin_;
  std::unique_ptr<v1::AppService::Stub> apps_;
  std::unique_ptr<v1::EventTypeService::Stub> types_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
  std::unique_ptr<v1::TokenService::Stub> tokens_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<grpc::reflection::v1alpha::ServerReflection::Stub> reflection_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
  // Channels to every hookd-subscription replica running.
  std::vector<std::shared_ptr<grpc::Channel>> subscriptions_;
  // Per tenant: an app that gets the published events, one event and its delivery.
  std::map<std::string, v1::App> routed_app_;
  std::map<std::string, std::string> event_id_;
  std::map<std::string, std::string> delivery_id_;
  // What must appear in no table and no log line.
  std::vector<std::string> token_secrets_;
  std::vector<std::string> app_secrets_;
  std::vector<std::string> header_values_;
  int serial_ = 0;
};

std::vector<Row> TokensTest::Rows() {
  const std::set<v1::Role> everyone(kRoles.begin(), kRoles.end());
  const std::set<v1::Role> readers = {v1::ROLE_ADMIN, v1::ROLE_MANAGER, v1::ROLE_VIEWER};
  const std::set<v1::Role> managers = {v1::ROLE_ADMIN, v1::ROLE_MANAGER};
  const std::set<v1::Role> publishers = {v1::ROLE_ADMIN, v1::ROLE_PUBLISHER};
  const std::set<v1::Role> admin = {v1::ROLE_ADMIN};
  const StatusCode kDenied = StatusCode::PERMISSION_DENIED;
  const StatusCode kNotFound = StatusCode::NOT_FOUND;
  // What calls act on: the tenant itself, a new app (a call that works may delete or change
  // it), the tenant's routed app, event or delivery.
  auto tenant = [](const std::string& t) { return t; };
  auto new_app = [this](const std::string& t) { return NewApp(t).id(); };
  auto routed_app = [this](const std::string& t) { return routed_app_.at(t).id(); };
  auto delivery = [this](const std::string& t) { return delivery_id_.at(t); };
  auto event = [this](const std::string& t) { return event_id_.at(t); };
  return {
      {"AppService.CreateApp", managers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::CreateAppRequest request;
         request.mutable_app()->set_tenant(t);
         request.mutable_app()->set_name("created");
         request.mutable_app()->set_url(kUrl);
         request.mutable_app()->add_event_types("app.changed");
         request.set_skip_connection_test(true);
         v1::App out;
         grpc::Status status = apps_->CreateApp(ClientContext(token).get(), request, &out);
         app_secrets_.push_back(out.secret());
         return status;
       }},
      {"AppService.GetApp", readers, kNotFound, false, new_app,
       [this](const std::string& token, const std::string& id) {
         v1::GetAppRequest request;
         request.set_id(id);
         v1::App out;
         return apps_->GetApp(ClientContext(token).get(), request, &out);
       }},
      {"AppService.ListApps", readers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::ListAppsRequest request;
         request.set_tenant(t);
         v1::ListAppsResponse out;
         return apps_->ListApps(ClientContext(token).get(), request, &out);
       }},
      {"AppService.UpdateApp", managers, kNotFound, false, new_app,
       [this](const std::string& token, const std::string& id) {
         v1::UpdateAppRequest request;
         request.mutable_app()->set_id(id);
         request.mutable_app()->set_name("renamed");
         request.mutable_update_mask()->add_paths("name");
         v1::App out;
         return apps_->UpdateApp(ClientContext(token).get(), request, &out);
       }},
      {"AppService.DeleteApp", managers, kNotFound, false, new_app,
       [this](const std::string& token, const std::string& id) {
         v1::DeleteAppRequest request;
         request.set_id(id);
         google::protobuf::Empty out;
         return apps_->DeleteApp(ClientContext(token).get(), request, &out);
       }},
      {"AppService.EnableApp", managers, kNotFound, false,
       [this](const std::string& t) {
         v1::DisableAppRequest disable;
         disable.set_id(NewApp(t).id());
         v1::App out;
         EXPECT_TRUE(apps_->DisableApp(ClientContext(admin_).get(), disable, &out).ok());
         return disable.id();
       },
       [this](const std::string& token, const std::string& id) {
         v1::EnableAppRequest request;
         request.set_id(id);
         v1::App out;
         return apps_->EnableApp(ClientContext(token).get(), request, &out);
       }},
      {"AppService.DisableApp", managers, kNotFound, false, new_app,
       [this](const std::string& token, const std::string& id) {
         v1::DisableAppRequest request;
         request.set_id(id);
         v1::App out;
         return apps_->DisableApp(ClientContext(token).get(), request, &out);
       }},
      {"AppService.RotateSecret", managers, kNotFound, false, new_app,
       [this](const std::string& token, const std::string& id) {
         v1::RotateSecretRequest request;
         request.set_id(id);
         v1::App out;
         grpc::Status status = apps_->RotateSecret(ClientContext(token).get(), request, &out);
         app_secrets_.push_back(out.secret());
         return status;
       }},
      {"AppService.TestConnection", managers, kNotFound, false, new_app,
       [this](const std::string& token, const std::string& id) {
         v1::TestConnectionRequest request;
         request.set_id(id);
         v1::TestConnectionResponse out;
         return apps_->TestConnection(ClientContext(token).get(), request, &out);
       }},
      {"AppService.WatchApps", readers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::WatchAppsRequest request;
         request.set_tenant(t);
         return FirstMessage(*apps_, token, request);
       }},
      {"AppService.WatchApps (include_secrets)", admin, kDenied, true, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::WatchAppsRequest request;
         request.set_tenant(t);
         request.set_include_secrets(true);
         return FirstMessage(*apps_, token, request);
       }},
      {"EventTypeService.CreateEventType", admin, kDenied, true,
       [this](const std::string&) { return "made.t" + std::to_string(++serial_); },
       [this](const std::string& token, const std::string& name) {
         v1::CreateEventTypeRequest request;
         request.mutable_event_type()->set_name(name);
         v1::EventType out;
         return types_->CreateEventType(ClientContext(token).get(), request, &out);
       }},
      {"EventTypeService.ListEventTypes", everyone, StatusCode::OK, false, tenant,
       [this](const std::string& token, const std::string&) {
         v1::ListEventTypesRequest request;
         v1::ListEventTypesResponse out;
         return types_->ListEventTypes(ClientContext(token).get(), request, &out);
       }},
      {"ServerReflection.ServerReflectionInfo", everyone, StatusCode::OK, false, tenant,
       [this](const std::string& token, const std::string&) {
         auto context = ClientContext(token);
         auto stream = reflection_->ServerReflectionInfo(context.get());
         grpc::reflection::v1alpha::ServerReflectionRequest request;
         request.set_list_services("");
         grpc::reflection::v1alpha::ServerReflectionResponse response;
         if (stream->Write(request) && stream->Read(&response)) {
           if (response.list_services_response().service_size() == 0) {
             return grpc::Status(grpc::StatusCode::INTERNAL, "no services listed");
           }
           stream->WritesDone();
         }
         return stream->Finish();
       }},
      {"EventTypeService.ArchiveEventType", admin, kDenied, true,
       [this](const std::string&) {
         v1::CreateEventTypeRequest create;
         create.mutable_event_type()->set_name("archived.t" + std::to_string(++serial_));
         v1::EventType out;
         EXPECT_TRUE(types_->CreateEventType(ClientContext(admin_).get(), create, &out).ok());
         return create.event_type().name();
       },
       [this](const std::string& token, const std::string& name) {
         v1::ArchiveEventTypeRequest request;
         request.set_name(name);
         v1::EventType out;
         return types_->ArchiveEventType(ClientContext(token).get(), request, &out);
       }},
      {"DeliveryService.ListDeliveries", readers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::ListDeliveriesRequest request;
         request.set_tenant(t);
         v1::ListDeliveriesResponse out;
         return deliveries_->ListDeliveries(ClientContext(token).get(), request, &out);
       }},
      {"DeliveryService.GetDelivery", readers, kNotFound, false, delivery,
       [this](const std::string& token, const std::string& id) {
         v1::GetDeliveryRequest request;
         request.set_id(id);
         v1::Delivery out;
         return deliveries_->GetDelivery(ClientContext(token).get(), request, &out);
       }},
      {"DeliveryService.RetryDelivery", managers, kNotFound, false, delivery,
       [this](const std::string& token, const std::string& id) {
         v1::RetryDeliveryRequest request;
         request.set_id(id);
         v1::Delivery out;
         return deliveries_->RetryDelivery(ClientContext(token).get(), request, &out);
       }},
      {"DeliveryService.RecoverFailed", managers, kNotFound, false, routed_app,
       [this](const std::string& token, const std::string& id) {
         v1::RecoverFailedRequest request;
         request.set_app_id(id);
         request.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
         v1::RecoverFailedResponse out;
         return deliveries_->RecoverFailed(ClientContext(token).get(), request, &out);
       }},
      {"DeliveryService.ExportDeliveries", readers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::ListDeliveriesRequest request;
         request.set_tenant(t);
         auto context = ClientContext(token);
         auto reader = deliveries_->ExportDeliveries(context.get(), request);
         v1::Delivery delivery;
         while (reader->Read(&delivery)) {
         }
         return reader->Finish();
       }},
      {"DeliveryService.GetAppStats", readers, kNotFound, false, routed_app,
       [this](const std::string& token, const std::string& id) {
         v1::GetAppStatsRequest request;
         request.set_app_id(id);
         v1::AppStats out;
         return deliveries_->GetAppStats(ClientContext(token).get(), request, &out);
       }},
      {"IngestService.Publish", publishers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) { return Publish(token, t); }},
      {"IngestService.PublishBatch", publishers, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::PublishBatchRequest request;
         v1::PublishRequest* event = request.add_events();
         event->set_tenant(t);
         event->set_event_type("video.ready");
         event->set_payload(R"({"video_id":"v_2"})");
         v1::PublishBatchResponse out;
         grpc::Status status = ingest_->PublishBatch(ClientContext(token).get(), request, &out);
         // A batch answers OK with an error per refused event.
         if (status.ok() && out.errors_size() == 1 && out.errors(0).code() != 0) {
           return grpc::Status(static_cast<StatusCode>(out.errors(0).code()),
                               out.errors(0).message());
         }
         return status;
       }},
      {"IngestService.GetEvent", everyone, kNotFound, false, event,
       [this](const std::string& token, const std::string& id) {
         v1::GetEventRequest request;
         request.set_id(id);
         v1::Event out;
         return ingest_->GetEvent(ClientContext(token).get(), request, &out);
       }},
      {"TokenService.CreateToken", admin, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::CreateTokenRequest request;
         request.mutable_token()->set_name("made");
         request.mutable_token()->set_role(v1::ROLE_VIEWER);
         request.mutable_token()->set_tenant(t);
         v1::Token out;
         grpc::Status status = tokens_->CreateToken(ClientContext(token).get(), request, &out);
         token_secrets_.push_back(out.secret());
         return status;
       }},
      {"TokenService.ListTokens", admin, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::ListTokensRequest request;
         request.set_tenant(t);
         v1::ListTokensResponse out;
         return tokens_->ListTokens(ClientContext(token).get(), request, &out);
       }},
      {"TokenService.RevokeToken", admin, kNotFound, false,
       [this](const std::string& t) { return NewToken(v1::ROLE_VIEWER, t).id(); },
       [this](const std::string& token, const std::string& id) {
         v1::RevokeTokenRequest request;
         request.set_id(id);
         v1::Token out;
         return tokens_->RevokeToken(ClientContext(token).get(), request, &out);
       }},
      {"AuditService.ListAuditEvents", admin, kDenied, false, tenant,
       [this](const std::string& token, const std::string& t) {
         v1::ListAuditEventsRequest request;
         request.set_tenant(t);
         v1::ListAuditEventsResponse out;
         return audit_->ListAuditEvents(ClientContext(token).get(), request, &out);
       }},
  };
}

TEST_F(TokensTest, EveryRpcByEveryRoleAndTenantAnswersTheDocumentedCode) {
  // Per tenant: an app that gets the events, an event, and its delivery.
  for (const std::string tenant : {kOwn, kOther}) {
    routed_app_[tenant] = NewApp(tenant, /*subscribed=*/true);
    v1::PublishRequest publish;
    publish.set_tenant(tenant);
    publish.set_event_type("video.ready");
    publish.set_payload(R"({"video_id":"v_0"})");
    event_id_[tenant] = cluster_->PublishRouted(publish);
    ASSERT_FALSE(event_id_[tenant].empty());
    v1::ListDeliveriesRequest list;
    list.set_tenant(tenant);
    v1::ListDeliveriesResponse page;
    ASSERT_TRUE(deliveries_->ListDeliveries(ClientContext(admin_).get(), list, &page).ok());
    ASSERT_GE(page.deliveries_size(), 1);
    delivery_id_[tenant] = page.deliveries(0).id();
  }
  // Per role, a token of the own tenant and one of every tenant.
  std::map<std::pair<v1::Role, bool>, v1::Token> token_of;
  for (v1::Role role : kRoles) {
    token_of[{role, true}] = NewToken(role, kOwn);
    token_of[{role, false}] = NewToken(role, "");
  }
  // The calls that change something, each audited with its action (README "Audit log").
  const std::map<std::string, std::string> audited = {
      {"AppService.CreateApp", "app.create"},
      {"AppService.UpdateApp", "app.update"},
      {"AppService.DeleteApp", "app.delete"},
      {"AppService.EnableApp", "app.enable"},
      {"AppService.DisableApp", "app.disable"},
      {"AppService.RotateSecret", "app.rotate_secret"},
      {"EventTypeService.CreateEventType", "event_type.create"},
      {"EventTypeService.ArchiveEventType", "event_type.archive"},
      {"DeliveryService.RetryDelivery", "delivery.retry"},
      {"DeliveryService.RecoverFailed", "delivery.recover"},
      {"TokenService.CreateToken", "token.create"},
      {"TokenService.RevokeToken", "token.revoke"},
  };

  const std::vector<Row> rows = Rows();
  // Every RPC of the five services and reflection, watch with secrets apart.
  ASSERT_EQ(rows.size(), 28u);
  int calls = 0;
  for (const Row& row : rows) {
    for (v1::Role role : kRoles) {
      for (Scope scope : {Scope::kOwnTenant, Scope::kOtherTenant, Scope::kEveryTenant}) {
        const v1::Token& caller = token_of[{role, scope != Scope::kEveryTenant}];
        const std::string& token = caller.secret();
        const std::string tenant = scope == Scope::kOtherTenant ? kOther : kOwn;
        const StatusCode expected = Expected(row, role, scope);
        SCOPED_TRACE(row.rpc + " by a " + v1::Role_Name(role) + " token of " + ScopeName(scope));
        const std::string target = row.prepare(tenant);
        const std::string before = Snapshot();
        const std::string last_entry = LastAuditId();
        grpc::Status status = row.call(token, target);
        EXPECT_EQ(status.error_code(), expected) << status.error_message();
        // A refused call changed nothing, its audit log included.
        if (expected != StatusCode::OK) {
          EXPECT_EQ(Snapshot(), before);
        }
        // A change is one audit entry, naming the token, the action, the resource and its
        // tenant; a read is none.
        std::vector<Entry> entries = AuditAfter(last_entry);
        auto action = audited.find(row.rpc);
        if (expected != StatusCode::OK || action == audited.end()) {
          EXPECT_EQ(entries.size(), 0u);
        } else {
          EXPECT_EQ(entries.size(), 1u);
          for (const Entry& entry : entries) {
            EXPECT_EQ(entry.token_id, caller.id());
            EXPECT_EQ(entry.action, action->second);
            EXPECT_EQ(entry.tenant, absl::StartsWith(action->second, "event_type.") ? "" : tenant);
            if (target != tenant) {
              EXPECT_EQ(entry.resource, target);
            }
            EXPECT_TRUE(absl::StartsWith(entry.request_id, "req_")) << entry.request_id;
          }
        }
        ++calls;
      }
    }
  }
  EXPECT_EQ(calls, 28 * 4 * 3);
  ExpectNoSecretAnywhere({"subscription", "ingest"});
}

TEST_F(TokensTest, AListingNamingNoTenantListsTheTokensOwn) {
  for (const std::string tenant : {kOwn, kOther}) {
    NewApp(tenant);
    NewApp(tenant);
  }
  const std::string viewer = NewToken(v1::ROLE_VIEWER, kOwn).secret();
  const std::string admin_of_own = NewToken(v1::ROLE_ADMIN, kOwn).secret();
  NewToken(v1::ROLE_VIEWER, kOther);

  v1::ListAppsResponse apps;
  ASSERT_TRUE(apps_->ListApps(ClientContext(viewer).get(), {}, &apps).ok());
  ASSERT_EQ(apps.apps_size(), 2);
  for (const v1::App& app : apps.apps()) EXPECT_EQ(app.tenant(), kOwn);
  v1::ListAppsResponse everything;
  ASSERT_TRUE(apps_->ListApps(ClientContext(admin_).get(), {}, &everything).ok());
  EXPECT_EQ(everything.apps_size(), 4);

  v1::ListTokensResponse tokens;
  ASSERT_TRUE(tokens_->ListTokens(ClientContext(admin_of_own).get(), {}, &tokens).ok());
  ASSERT_EQ(tokens.tokens_size(), 2);  // the viewer and itself, never the other tenant's
  for (const v1::Token& token : tokens.tokens()) {
    EXPECT_EQ(token.tenant(), kOwn);
    EXPECT_EQ(token.secret(), "");  // a token's text is shown once, by CreateToken
  }

  // A watch of no tenant sees the token's tenant only: its snapshot ends with SYNCED.
  auto context = ClientContext(viewer, absl::Seconds(5));
  auto reader = apps_->WatchApps(context.get(), {});
  std::set<std::string> watched;
  v1::WatchAppsResponse change;
  while (reader->Read(&change) && change.type() != v1::WatchAppsResponse::SYNCED) {
    watched.insert(change.app().tenant());
  }
  EXPECT_EQ(watched, std::set<std::string>{kOwn});
  context->TryCancel();
  reader->Finish();
}

TEST_F(TokensTest, TheAuditLogKeepsTheRequestIdAndATenantsAdminReadsItsOwn) {
  const v1::Token own_admin = NewToken(v1::ROLE_ADMIN, kOwn);
  const v1::App own = NewApp(kOwn);
  const v1::App other = NewApp(kOther);
  // A request id the client chose is recorded and echoed; a malformed one is replaced.
  v1::DisableAppRequest disable;
  disable.set_id(own.id());
  v1::App out;
  auto context = ClientContext(own_admin.secret());
  context->AddMetadata("x-request-id", "e2e-req-42");
  ASSERT_TRUE(apps_->DisableApp(context.get(), disable, &out).ok());
  auto echoed = context->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(echoed, context->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()), "e2e-req-42");
  disable.set_id(other.id());
  auto bad_id = ClientContext(admin_);
  bad_id->AddMetadata("x-request-id", "spaces are not allowed");
  ASSERT_TRUE(apps_->DisableApp(bad_id.get(), disable, &out).ok());

  v1::ListAuditEventsRequest list;
  list.set_action("app.disable");
  v1::ListAuditEventsResponse everything;
  ASSERT_TRUE(audit_->ListAuditEvents(ClientContext(admin_).get(), list, &everything).ok());
  ASSERT_EQ(everything.events_size(), 2);
  const v1::AuditEvent& newest = everything.events(0);  // newest first
  EXPECT_EQ(newest.resource(), other.id());
  EXPECT_EQ(newest.token_id(), "bootstrap");
  EXPECT_TRUE(absl::StartsWith(newest.request_id(), "req_")) << newest.request_id();
  const v1::AuditEvent& first = everything.events(1);
  EXPECT_EQ(first.resource(), own.id());
  EXPECT_EQ(first.token_id(), own_admin.id());
  EXPECT_EQ(first.role(), v1::ROLE_ADMIN);
  EXPECT_EQ(first.tenant(), kOwn);
  EXPECT_EQ(first.request_id(), "e2e-req-42");

  // The tenant's admin reads its own tenant's entries only, and may not name another.
  v1::ListAuditEventsResponse scoped;
  ASSERT_TRUE(audit_->ListAuditEvents(ClientContext(own_admin.secret()).get(), {}, &scoped).ok());
  ASSERT_GT(scoped.events_size(), 0);
  for (const v1::AuditEvent& event : scoped.events()) EXPECT_EQ(event.tenant(), kOwn);
  v1::ListAuditEventsRequest named;
  named.set_tenant(kOther);
  EXPECT_EQ(
      audit_->ListAuditEvents(ClientContext(own_admin.secret()).get(), named, &scoped).error_code(),
      StatusCode::PERMISSION_DENIED);
}

TEST_F(TokensTest, ARevokedTokenIsRefusedByEveryReplicaOfEveryServiceWithinASecond) {
  auto replica = cluster_->StartSubscriptionReplica();
  ASSERT_TRUE(replica.ok()) << replica.status();
  NewApp(kOwn);
  subscriptions_.push_back(*replica);
  // Made on the second replica, revoked on the first.
  auto second = v1::TokenService::NewStub(*replica);
  v1::CreateTokenRequest create;
  create.mutable_token()->set_name("revoked soon");
  create.mutable_token()->set_role(v1::ROLE_VIEWER);
  v1::Token token;
  ASSERT_TRUE(second->CreateToken(ClientContext(admin_).get(), create, &token).ok());
  token_secrets_.push_back(token.secret());
  ASSERT_TRUE(AcceptedEverywhere(token.secret()));
  // A watch open before the revocation: a stream outlives its first check, and must end too.
  auto watch_context = ClientContext(token.secret(), absl::Seconds(20));
  auto watch = apps_->WatchApps(watch_context.get(), {});
  v1::WatchAppsResponse change;
  while (watch->Read(&change) && change.type() != v1::WatchAppsResponse::SYNCED) {
  }
  ASSERT_EQ(change.type(), v1::WatchAppsResponse::SYNCED);
  std::promise<std::pair<grpc::Status, absl::Time>> watch_end;
  std::thread watcher([&] {
    v1::WatchAppsResponse more;
    while (watch->Read(&more)) {
    }
    grpc::Status status = watch->Finish();
    watch_end.set_value({status, absl::Now()});
  });

  v1::RevokeTokenRequest revoke;
  revoke.set_id(token.id());
  v1::Token revoked;
  const absl::Time start = absl::Now();
  // EXPECT, not ASSERT, until the watcher thread is joined.
  EXPECT_TRUE(tokens_->RevokeToken(ClientContext(admin_).get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.has_revoke_time());
  EXPECT_TRUE(AnsweredEverywhere(token.secret(), /*accepted=*/false, absl::Seconds(1)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(1));
  std::cout << "revocation refused by 2 subscription replicas and ingest after " << took << "\n";
  auto ended = watch_end.get_future();
  const bool ended_in_time = ended.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (!ended_in_time) watch_context->TryCancel();
  watcher.join();
  EXPECT_TRUE(ended_in_time) << "the watch outlived the revocation";
  auto [watch_status, watch_ended] = ended.get();
  EXPECT_EQ(watch_status.error_code(), StatusCode::UNAUTHENTICATED) << watch_status.error_message();
  EXPECT_EQ(watch_status.error_message(), "token " + token.id() + " is revoked");
  EXPECT_LT(watch_ended - start, absl::Seconds(1));
  std::cout << "the open watch ended after " << watch_ended - start << "\n";

  // The answer names the token; revoking again leaves the token as it was, and is audited as
  // what was asked (README "Audit log").
  v1::ListEventTypesResponse out;
  grpc::Status refused = v1::EventTypeService::NewStub(*replica)->ListEventTypes(
      ClientContext(token.secret()).get(), {}, &out);
  EXPECT_EQ(refused.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(), "token " + token.id() + " is revoked");
  v1::Token again;
  ASSERT_TRUE(second->RevokeToken(ClientContext(admin_).get(), revoke, &again).ok());
  EXPECT_EQ(again.revoke_time().seconds(), revoked.revoke_time().seconds());
  EXPECT_EQ(again.revoke_time().nanos(), revoked.revoke_time().nanos());
  int revocations = 0;
  for (const Entry& entry : AuditAfter("")) {
    if (entry.action == "token.revoke" && entry.resource == token.id()) ++revocations;
  }
  EXPECT_EQ(revocations, 2);
  ExpectNoSecretAnywhere({"subscription", "subscription-2", "ingest"});
}

// Server reflection as gRPC's own Node client speaks it (tests/interop/reflection_client.mjs:
// @grpc/grpc-js with the protocol bundled in @grpc/reflection): a viewer's token of one tenant
// lists the services and fetches hookd's descriptors; no token and a wrong one are refused.
TEST_F(TokensTest, ReflectionAnswersGrpcsOwnClientWithATokenOnly) {
  const std::string viewer = NewToken(v1::ROLE_VIEWER, kOwn).secret();
  const std::string command = "node " + std::string(HOOKD_SOURCE_DIR) +
                              "/tests/interop/reflection_client.mjs 127.0.0.1:" +
                              std::to_string(cluster_->subscription_port()) + " " + viewer;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << output;
  nlohmann::json answer = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(answer.is_object()) << output;
  EXPECT_EQ(answer["code"], 0) << output;
  EXPECT_EQ(answer["services"], nlohmann::json({"hookd.v1.AppService", "hookd.v1.EventTypeService",
                                                "hookd.v1.DeliveryService", "hookd.v1.TokenService",
                                                "hookd.v1.AuditService", "grpc.health.v1.Health",
                                                "grpc.reflection.v1alpha.ServerReflection"}));
  EXPECT_EQ(answer["first_file"], "hookd/v1/app.proto");
  // Its imports come along, so a client can build every message type.
  EXPECT_TRUE(std::find(answer["files"].begin(), answer["files"].end(),
                        "google/protobuf/timestamp.proto") != answer["files"].end())
      << output;
  std::vector<std::string> methods = answer["app_service_methods"];
  EXPECT_TRUE(std::find(methods.begin(), methods.end(), "CreateApp") != methods.end()) << output;
  EXPECT_TRUE(std::find(methods.begin(), methods.end(), "WatchApps") != methods.end()) << output;
  EXPECT_EQ(answer["missing_error_code"], static_cast<int>(StatusCode::NOT_FOUND));
  EXPECT_EQ(answer["without_token_code"], static_cast<int>(StatusCode::UNAUTHENTICATED));
  EXPECT_EQ(answer["wrong_token_code"], static_cast<int>(StatusCode::UNAUTHENTICATED));
}

TEST_F(TokensTest, AnExpiredTokenIsRefused) {
  v1::CreateTokenRequest create;
  create.mutable_token()->set_name("short-lived");
  create.mutable_token()->set_role(v1::ROLE_PUBLISHER);
  create.mutable_token()->set_tenant(kOwn);
  create.mutable_token()->mutable_expire_time()->set_seconds(
      absl::ToUnixSeconds(absl::Now() + absl::Seconds(6)));  // time to be seen everywhere first
  v1::Token token;
  ASSERT_TRUE(tokens_->CreateToken(ClientContext(admin_).get(), create, &token).ok());
  ASSERT_TRUE(AcceptedEverywhere(token.secret()));
  EXPECT_TRUE(AnsweredEverywhere(token.secret(), /*accepted=*/false, absl::Seconds(15)));
  EXPECT_GE(absl::Now(), absl::FromUnixSeconds(token.expire_time().seconds()));
  grpc::Status refused = Publish(token.secret(), kOwn);
  EXPECT_EQ(refused.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(), "token " + token.id() + " has expired");
}

TEST_F(TokensTest, BadTokenRequestsNameTheFieldAndStoreNothing) {
  const std::string admin_of_own = NewToken(v1::ROLE_ADMIN, kOwn).secret();
  const std::string before = Snapshot();
  struct Case {
    std::string what;
    std::function<void(v1::Token&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"no role", [](v1::Token& t) { t.set_role(v1::ROLE_UNSPECIFIED); }, "token.role"},
      {"unknown role", [](v1::Token& t) { t.set_role(static_cast<v1::Role>(9)); }, "token.role"},
      {"bad tenant", [](v1::Token& t) { t.set_tenant("acme corp!"); }, "token.tenant"},
      {"no name", [](v1::Token& t) { t.clear_name(); }, "token.name"},
      {"past expiry",
       [](v1::Token& t) {
         t.mutable_expire_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
       },
       "token.expire_time"},
  };
  for (const Case& c : cases) {
    v1::CreateTokenRequest request;
    request.mutable_token()->set_name("bad");
    request.mutable_token()->set_role(v1::ROLE_VIEWER);
    request.mutable_token()->set_tenant(kOwn);
    c.change(*request.mutable_token());
    v1::Token out;
    grpc::Status status = tokens_->CreateToken(ClientContext(admin_).get(), request, &out);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_TRUE(absl::StartsWith(status.error_message(), c.field + ":"))
        << c.what << ": " << status.error_message();
  }
  // A tenant's admin cannot issue a token of every tenant, nor revoke an unknown one.
  v1::CreateTokenRequest everywhere;
  everywhere.mutable_token()->set_name("escalation");
  everywhere.mutable_token()->set_role(v1::ROLE_ADMIN);
  v1::Token out;
  EXPECT_EQ(tokens_->CreateToken(ClientContext(admin_of_own).get(), everywhere, &out).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::RevokeTokenRequest unknown;
  unknown.set_id("tok_unknown");
  EXPECT_EQ(tokens_->RevokeToken(ClientContext(admin_).get(), unknown, &out).error_code(),
            StatusCode::NOT_FOUND);
  EXPECT_EQ(Snapshot(), before);
  // Unknown and malformed tokens.
  for (const std::string& bad : {"hkd_" + std::string(64, '0'), std::string("not-a-token")}) {
    EXPECT_EQ(Publish(bad, kOwn).error_code(), StatusCode::UNAUTHENTICATED) << bad;
  }
}

}  // namespace
}  // namespace hookd::e2e
