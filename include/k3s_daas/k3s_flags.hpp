#pragma once
// What `k3s agent` (v1.34) accepts on its command line, and which of it the worker agent keeps
// for itself. k3s parses with urfave/cli v1 over Go's `flag` package: `-name` and `--name` are
// the same flag, `-name=value` and `-name value` the same value, a flag's alias (`-s` for
// `--server`) the same flag, and `--` ends the flags. An entry of k3s.extra_args or
// k3s.kubelet_args is refused when it names, in any of those spellings, a flag the agent sets
// itself (see docs/supervisor.md, "k3s flags").
//
// Lives in the config library so that the config validator (schema.cpp) and the runtime
// (k3s_agent.cpp, just before starting k3s) run the same check; the runtime library depends on
// config, not the other way round.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace k3s_daas::k3s_flags {

enum class Kind { kString, kInt, kBool, kList };

struct Flag {
  std::string_view name;   // without dashes: "server"
  std::string_view alias;  // "s", or empty
  Kind kind;
  std::string_view reserved_because;  // empty: extra_args may use it
};

// Every flag of `k3s agent` v1.34 (pkg/cli/cmds/agent.go, log.go, config.go), plus urfave's
// help/h. The table fake-k3s parses by is its own copy, kept apart on purpose.
const std::vector<Flag>& agent_flags();

// The flag named `name` (a name or an alias, without dashes), or nullptr.
const Flag* find(std::string_view name);

// A message for the first entry of k3s.extra_args that the agent refuses, or nullopt:
// "\"entry\" is set by the agent itself: entry [i] names --flag (-alias); reason" for a reserved
// flag, "[i] \"entry\": reason" for the rest. Refused: a reserved flag in any spelling (also where Go would take the entry as the
// value of the flag before it), a bare "--", a positional argument, "---x" (k3s: bad flag
// syntax), two forms of one flag (k3s: "Cannot use two forms of the same flag"), a bool flag
// followed by a separate true/false (k3s takes that as a positional argument), control
// characters.
std::optional<std::string> check_extra_args(const std::vector<std::string>& args);

// The same for k3s.kubelet_args (each passed as --kubelet-arg=<entry>; k3s strips a leading
// "--" and splits at the first "="): refused are control characters, an empty key, and kubelet
// flags that would undo what the agent sets (hostname-override, node-labels,
// register-with-taints, container-runtime-endpoint, image-service-endpoint, kubeconfig,
// bootstrap-kubeconfig, cert-dir).
std::optional<std::string> check_kubelet_args(const std::vector<std::string>& args);

}  // namespace k3s_daas::k3s_flags
