#pragma once
// URL text helpers shared by the components that show or check endpoints (config, net, sui,
// master, cli). Pure string work: no network, no parsing library. Must never: resolve a host
// name or decide on anything else than the URL's text.

#include <string>

namespace k3s_daas {

// Strips credentials (user:password@) and the query string from a URL so it can be shown in
// logs and errors.
std::string display_url(const std::string& url);

// True when the URL's host is a loopback address (127.x, [::1]) or "localhost".
bool is_loopback_url(const std::string& url);

}  // namespace k3s_daas
