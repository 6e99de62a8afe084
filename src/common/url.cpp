#include "k3s_daas/url.hpp"

#include <algorithm>
#include <cctype>

namespace k3s_daas {

std::string display_url(const std::string& url) {
  std::string out = url;
  auto scheme = out.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  auto at = out.find('@', host_start);
  auto slash = out.find('/', host_start);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) out.erase(host_start, at + 1 - host_start);
  auto query = out.find('?');
  if (query != std::string::npos) out.erase(query);
  return out;
}

bool is_loopback_url(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  std::string rest = url.substr(scheme + 3);
  auto end = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, end);
  auto at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  std::string host;
  if (!authority.empty() && authority[0] == '[') {
    host = authority.substr(1, authority.find(']') - 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 as a dotted quad only: "127.evil.example" is a name that DNS may point anywhere.
  if (host.rfind("127.", 0) != 0) return false;
  int parts = 0;
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    std::string part = host.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.size() > 3 || part.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(part) > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

}  // namespace k3s_daas
