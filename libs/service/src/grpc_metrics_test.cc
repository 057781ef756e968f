#include <future>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "hookd/metrics/metrics.h"
#include "hookd/service/grpc_util.h"

namespace hookd {
namespace {

// A unary call to `method` with an empty body; its status.
grpc::Status CallGeneric(grpc::GenericStub& stub, const std::string& method) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);  // an empty message: a ByteBuffer without a slice is none
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) { done.set_value(status); });
  return done.get_future().get();
}

TEST(GrpcMetrics, MadeUpMethodsShareOneLabelAndRealOnesKeepTheirs) {
  auto started = StartGrpcServer("127.0.0.1:0", {});
  ASSERT_TRUE(started.ok()) << started.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(started->port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  for (int i = 0; i < 150; ++i) {
    grpc::Status status = CallGeneric(stub, "/made.up.Service" + std::to_string(i) + "/Method");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  grpc::health::v1::HealthCheckResponse health;
  grpc::ClientContext context;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)->Check(&context, {}, &health).ok());
  started->server->Shutdown();

  const std::string text = metrics::DefaultRegistry().Render();
  EXPECT_EQ(text.find("made.up"), std::string::npos);
  EXPECT_NE(text.find("hookd_grpc_requests_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 150"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hookd_grpc_requests_total{method=\"grpc.health.v1.Health/Check\","
                      "code=\"OK\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("method=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace hookd
