#include "grpc_metrics.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "hookd/common/absl_view.h"
#include "hookd/metrics/metrics.h"

namespace hookd {
namespace {

struct GrpcMetrics {
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& duration;
};

// Method names come from clients too (an unknown method is answered UNIMPLEMENTED): only the
// methods this binary knows get a label of their own (MethodLabel), and the label stays bounded.
const GrpcMetrics& Metrics() {
  static const GrpcMetrics* m = [] {
    metrics::Registry& r = metrics::DefaultRegistry();
    metrics::FamilyOptions bounded{.bounded_label = 0};
    return new GrpcMetrics{
        .requests = r.AddCounterFamily("hookd_grpc_requests_total",
                                       "gRPC calls answered, by method and status code.",
                                       {"method", "code"}, bounded),
        .duration = r.AddHistogramFamily(
            "hookd_grpc_request_duration_seconds",
            "Time from a call's arrival to its status, by method (streams: their whole life).",
            {"method"}, metrics::LatencyBuckets(), bounded),
    };
  }();
  return *m;
}

// "/hookd.v1.IngestService/Publish" -> "hookd.v1.IngestService/Publish" when the method is one
// of the services compiled into this binary (the generated descriptor pool holds them); any
// other name a client made up -> "unknown", so that made-up names never take a series of their
// own, nor push real methods into the overflow.
std::string MethodLabel(std::string_view method) {
  if (!method.empty() && method.front() == '/') method.remove_prefix(1);
  const std::string full = absl::StrReplaceAll(AbslView(method), {{"/", "."}});
  if (google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full) == nullptr) {
    return "unknown";
  }
  return std::string(method);
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(std::string_view method)
      : method_(MethodLabel(method)), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      auto code = static_cast<absl::StatusCode>(methods->GetSendStatus().error_code());
      const GrpcMetrics& m = Metrics();
      m.requests.With({method_, absl::StatusCodeToString(code)}).Increment();
      m.duration.With({method_}).Observe(absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  const absl::Time start_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info->method() != nullptr ? info->method() : "");
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewGrpcMetricsInterceptorFactory() {
  Metrics();  // announced from the first scrape, before any call
  return std::make_unique<Factory>();
}

}  // namespace hookd
