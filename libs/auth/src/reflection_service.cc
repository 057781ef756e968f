#include "hookd/auth/reflection_service.h"

#include <set>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"

namespace hookd::auth {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

void SetError(ServerReflectionResponse& response, grpc::StatusCode code, std::string message) {
  response.mutable_error_response()->set_error_code(static_cast<int>(code));
  response.mutable_error_response()->set_error_message(std::move(message));
}

// `file` and every file it imports, transitively, each once, `file` first.
void AddFiles(const FileDescriptor* file, std::set<std::string>& seen,
              ServerReflectionResponse& response) {
  if (!seen.insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(response.mutable_file_descriptor_response()->add_file_descriptor_proto());
  for (int i = 0; i < file->dependency_count(); ++i) AddFiles(file->dependency(i), seen, response);
}

// The file defining `symbol`: a type, service, enum, or a method or field ("Service.Method").
const FileDescriptor* FileOfSymbol(const std::string& symbol) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  if (const FileDescriptor* file = pool->FindFileContainingSymbol(symbol)) return file;
  if (const auto* method = pool->FindMethodByName(symbol)) return method->service()->file();
  return nullptr;
}

class Reactor final
    : public grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse> {
 public:
  Reactor(const ReflectionService& service, absl::Status access) : service_(service) {
    if (!access.ok()) {
      Finish(ToGrpcStatus(access));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // the client is done asking
      return;
    }
    response_ = service_.Answer(request_);
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  const ReflectionService& service_;
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
};

}  // namespace

ServerReflectionResponse ReflectionService::Answer(const ServerReflectionRequest& request) const {
  ServerReflectionResponse response;
  *response.mutable_original_request() = request;
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  std::set<std::string> seen;
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case ServerReflectionRequest::kFileByFilename:
      if (const FileDescriptor* file = pool->FindFileByName(request.file_by_filename())) {
        AddFiles(file, seen, response);
      } else {
        SetError(response, grpc::StatusCode::NOT_FOUND, "no such file");
      }
      break;
    case ServerReflectionRequest::kFileContainingSymbol:
      if (const FileDescriptor* file = FileOfSymbol(request.file_containing_symbol())) {
        AddFiles(file, seen, response);
      } else {
        SetError(response, grpc::StatusCode::NOT_FOUND, "no such symbol");
      }
      break;
    case ServerReflectionRequest::kFileContainingExtension:
      SetError(response, grpc::StatusCode::NOT_FOUND, "no such extension");
      break;
    case ServerReflectionRequest::kAllExtensionNumbersOfType:
      if (pool->FindMessageTypeByName(request.all_extension_numbers_of_type()) != nullptr) {
        response.mutable_all_extension_numbers_response()->set_base_type_name(
            request.all_extension_numbers_of_type());
      } else {
        SetError(response, grpc::StatusCode::NOT_FOUND, "no such type");
      }
      break;
    default:
      SetError(response, grpc::StatusCode::UNIMPLEMENTED, "unknown request");
      break;
  }
  return response;
}

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext* context) {
  // Checked once, when the stream opens: a reflection stream reads descriptors compiled into the
  // binary, nothing of any tenant.
  ServerReflectionRequest nothing;
  absl::StatusOr<Access> access = auth_.Authorize(Rpc::kServerReflection, *context, nothing);
  return new Reactor(*this, access.status());
}

}  // namespace hookd::auth
