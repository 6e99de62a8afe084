#include "openssl_util.hpp"

#include <openssl/sha.h>

#include <cstdio>
#include <ctime>

namespace k3s_daas::master_detail {

std::string take_openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

X509Ptr parse_der_certificate(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    return nullptr;
  }
  return cert;
}

Bytes certificate_der(X509* cert) {
  unsigned char* out = nullptr;
  int len = i2d_X509(cert, &out);
  if (len <= 0) return {};
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

std::string certificate_subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return "?";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string asn1_time_iso(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buffer, n);
}

Bytes sha256(ByteView data) {
  Bytes digest(SHA256_DIGEST_LENGTH);
  SHA256(data.data(), data.size(), digest.data());
  return digest;
}

}  // namespace k3s_daas::master_detail
