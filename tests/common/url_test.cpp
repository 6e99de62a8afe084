// The URL text helpers (k3s_daas/url.hpp): what logs and errors may show of a URL, and which
// URLs count as loopback (the only ones allowed over plain http://).
#include <doctest/doctest.h>

#include "k3s_daas/url.hpp"

using namespace k3s_daas;

TEST_CASE("display_url strips credentials and the query string, and keeps the rest") {
  CHECK(display_url("https://user:secret@sui.example:443/graphql?token=abc") == "https://sui.example:443/graphql");
  CHECK(display_url("https://sui.example/graphql") == "https://sui.example/graphql");
  CHECK(display_url("http://127.0.0.1:9000/path?x=1") == "http://127.0.0.1:9000/path");
  // An '@' in the path is not a credential.
  CHECK(display_url("https://host/a@b") == "https://host/a@b");
  CHECK(display_url("user@host/x") == "host/x");  // no scheme: the text from the start is the authority
  CHECK(display_url("") == "");
}

TEST_CASE("is_loopback_url accepts 127.x, [::1] and localhost only, by the URL's host") {
  CHECK(is_loopback_url("http://127.0.0.1:9000/graphql"));
  CHECK(is_loopback_url("http://127.5.6.7/"));
  CHECK(is_loopback_url("http://LOCALHOST:80"));
  CHECK(is_loopback_url("http://[::1]:8080/x"));
  CHECK(is_loopback_url("http://user:pw@127.0.0.1/"));
  CHECK_FALSE(is_loopback_url("http://10.0.0.1/graphql"));
  CHECK_FALSE(is_loopback_url("http://127.0.0.1.evil.example@10.0.0.1/"));
  CHECK_FALSE(is_loopback_url("http://example.com/127.0.0.1"));
  CHECK_FALSE(is_loopback_url("127.0.0.1:9000"));  // no scheme
  // Names that merely start like a loopback address are names, resolved by DNS.
  CHECK_FALSE(is_loopback_url("http://127.evil.example/"));
  CHECK_FALSE(is_loopback_url("http://127.0.0.1.nip.io:80/"));
  CHECK_FALSE(is_loopback_url("http://127.0.0.256/"));
  CHECK_FALSE(is_loopback_url("http://127.0.0/"));
  CHECK_FALSE(is_loopback_url("http://127..0.1/"));
  CHECK_FALSE(is_loopback_url("http://localhost.example/"));
}
