#include "fleet_source.hpp"

#include <fmt/format.h>

namespace portpool_example {

HolderScope parse_holder_scope(std::string_view text) {
  if (text == "host") {
    return HolderScope::host;
  }
  if (text == "fleet") {
    return HolderScope::fleet;
  }
  throw ScopeError(
      fmt::format("unknown scope '{}': use host (this host's holders, the default) or fleet (every "
                  "host's, from etcd; needs --etcd)",
                  text));
}

}  // namespace portpool_example
