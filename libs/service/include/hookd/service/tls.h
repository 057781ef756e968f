#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace hookd {

// TLS of hookd's gRPC hops (README "TLS"). Files are PEM; each is watched and re-read, so a
// certificate rotated on disk serves new connections without a restart. gRPC keeps the old
// files when a new one is unreadable, so a rotation must swap them whole (a symlink or a rename,
// as Kubernetes Secrets and cert-manager do).
struct TlsSettings {
  // HOOKD_TLS_CERT / HOOKD_TLS_KEY: this process's certificate chain and key. Servers serve TLS
  // with them; hookd's own channels present them as client certificates.
  std::string cert_file = {};
  std::string key_file = {};
  // HOOKD_TLS_CLIENT_CA: servers require client certificates signed by these CAs (mTLS).
  std::string client_ca_file = {};
  // HOOKD_TLS_CA: hookd's own channels verify servers against these CAs; unset, they speak
  // plaintext.
  std::string ca_file = {};
  // How often the files are checked for a new version.
  absl::Duration refresh_interval = absl::Seconds(60);

  bool serves_tls() const { return !cert_file.empty(); }
  bool dials_tls() const { return !ca_file.empty(); }
};

// How errors name the settings: the services' variables, or hookctl's flags.
struct TlsSettingNames {
  std::string_view cert = "HOOKD_TLS_CERT";
  std::string_view key = "HOOKD_TLS_KEY";
  std::string_view client_ca = "HOOKD_TLS_CLIENT_CA";
  std::string_view ca = "HOOKD_TLS_CA";
  std::string_view refresh = "HOOKD_TLS_REFRESH";
};

// Checks the files with OpenSSL: each readable PEM of the right kind, the key matching the
// certificate, cert and key given together, a client CA only with a certificate. INVALID_ARGUMENT
// naming the setting, the path and the reason.
absl::Status CheckTlsFiles(const TlsSettings& settings, const TlsSettingNames& names = {});

// Server credentials: TLS when a certificate is set (with client certificates required when a
// client CA is), else plaintext.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(const TlsSettings& settings);

// Channel credentials: TLS verified against the CA, presenting the certificate when one is set,
// when a CA is set; else plaintext.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const TlsSettings& settings);

// The process's settings, used by StartGrpcServer and NewInternalChannel (so that every server
// and every channel hookd opens, now or later, follows them). Checked first: an error changes
// nothing. Default: plaintext.
absl::Status ConfigureProcessTls(const TlsSettings& settings);
TlsSettings ProcessTls();

}  // namespace hookd
