#pragma once
// OpenSSL helpers private to the master component: owning handles and error text.

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::master_detail {

template <auto Fn>
struct OsslFree {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) Fn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, OsslFree<X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OsslFree<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslFree<X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OsslFree<BIO_free_all>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslFree<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslFree<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslFree<ECDSA_SIG_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslFree<BN_free>>;

struct X509StackFree {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// The first queued OpenSSL error as text (empty when none); clears the queue.
std::string take_openssl_error();

// DER certificate -> X509 (nullptr when it does not parse, with the queue cleared).
X509Ptr parse_der_certificate(ByteView der);
Bytes certificate_der(X509* cert);
std::string certificate_subject(X509* cert);
// ISO 8601 UTC ("2025-04-15T02:17:47Z") of an ASN1_TIME.
std::string asn1_time_iso(const ASN1_TIME* time);
Bytes sha256(ByteView data);

}  // namespace k3s_daas::master_detail
