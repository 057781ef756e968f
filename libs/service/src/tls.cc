#include "hookd/service/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "hookd/common/absl_view.h"

namespace hookd {
namespace {

struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<FILE, FileCloser>;

// OpenSSL's reason for the last failure, or `fallback`.
std::string OpenSslReason(std::string_view fallback) {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : std::string(fallback);
}

absl::Status Refused(std::string_view setting, const std::string& path, std::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(setting), ": ", path, ": ", AbslView(reason)));
}

absl::StatusOr<File> Open(std::string_view setting, const std::string& path) {
  File file(std::fopen(path.c_str(), "r"));
  if (file == nullptr) return Refused(setting, path, std::strerror(errno));
  return file;
}

// The certificates of a PEM file (at least one).
absl::StatusOr<std::vector<std::unique_ptr<X509, decltype(&X509_free)>>> ReadCertificates(
    std::string_view setting, const std::string& path) {
  auto file = Open(setting, path);
  if (!file.ok()) return file.status();
  std::vector<std::unique_ptr<X509, decltype(&X509_free)>> certificates;
  ERR_clear_error();
  while (X509* cert = PEM_read_X509(file->get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(cert, &X509_free);
  }
  ERR_clear_error();  // the end of the file reads as an error
  if (certificates.empty()) return Refused(setting, path, "no PEM certificate in it");
  return certificates;
}

}  // namespace

absl::Status CheckTlsFiles(const TlsSettings& settings, const TlsSettingNames& names) {
  auto named = [](std::string_view name, std::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(name), ": ", AbslView(problem)));
  };
  if (settings.cert_file.empty() != settings.key_file.empty()) {
    return settings.cert_file.empty()
               ? named(names.cert, absl::StrCat("required with ", AbslView(names.key)))
               : named(names.key, absl::StrCat("required with ", AbslView(names.cert)));
  }
  if (!settings.client_ca_file.empty() && settings.cert_file.empty()) {
    return named(names.client_ca,
                 absl::StrCat("requires ", AbslView(names.cert), " and ", AbslView(names.key),
                              " (client certificates are asked for by a TLS "
                              "server)"));
  }
  if (settings.refresh_interval < absl::Seconds(1)) return named(names.refresh, "at least 1s");
  if (!settings.cert_file.empty()) {
    auto chain = ReadCertificates(names.cert, settings.cert_file);
    if (!chain.ok()) return chain.status();
    auto file = Open(names.key, settings.key_file);
    if (!file.ok()) return file.status();
    ERR_clear_error();
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_PrivateKey(file->get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    if (key == nullptr) {
      return Refused(names.key, settings.key_file,
                     "no PEM private key in it (" + OpenSslReason("unreadable") + ")");
    }
    if (X509_check_private_key((*chain)[0].get(), key.get()) != 1) {
      ERR_clear_error();
      return Refused(names.key, settings.key_file,
                     "does not match the certificate of " + settings.cert_file);
    }
  }
  if (!settings.client_ca_file.empty()) {
    auto cas = ReadCertificates(names.client_ca, settings.client_ca_file);
    if (!cas.ok()) return cas.status();
  }
  if (!settings.ca_file.empty()) {
    auto cas = ReadCertificates(names.ca, settings.ca_file);
    if (!cas.ok()) return cas.status();
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const TlsSettings& settings) {
  if (!settings.serves_tls()) return grpc::InsecureServerCredentials();
  const auto refresh = static_cast<unsigned int>(absl::ToInt64Seconds(settings.refresh_interval));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      settings.key_file, settings.cert_file, settings.client_ca_file, refresh);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (settings.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const TlsSettings& settings) {
  if (!settings.dials_tls()) return grpc::InsecureChannelCredentials();
  const auto refresh = static_cast<unsigned int>(absl::ToInt64Seconds(settings.refresh_interval));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      settings.key_file, settings.cert_file, settings.ca_file, refresh);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (!settings.cert_file.empty()) options.watch_identity_key_cert_pairs();
  return grpc::experimental::TlsCredentials(options);
}

namespace {
std::mutex process_tls_mu;
TlsSettings* process_tls = new TlsSettings();  // never destroyed: read until exit
}  // namespace

absl::Status ConfigureProcessTls(const TlsSettings& settings) {
  if (absl::Status checked = CheckTlsFiles(settings); !checked.ok()) return checked;
  std::lock_guard<std::mutex> lock(process_tls_mu);
  *process_tls = settings;
  return absl::OkStatus();
}

TlsSettings ProcessTls() {
  std::lock_guard<std::mutex> lock(process_tls_mu);
  return *process_tls;
}

}  // namespace hookd
