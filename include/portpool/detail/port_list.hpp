#pragma once

// Pools are shown to people in error messages and tables; runs of consecutive ports read better
// as ranges ("9000-9002") than as lists.

#include <portpool/detail/message.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace portpool::detail {

template <class Port>
std::string describe_ports(const std::vector<Port>& ports) {
  std::string text;
  for (std::size_t first = 0; first < ports.size();) {
    std::size_t last = first;
    while (last + 1 < ports.size() && ports[last + 1] == ports[last] + 1) {
      ++last;
    }
    if (!text.empty()) {
      text += ", ";
    }
    text += last == first ? format_message("{}", {ports[first]}) : format_message("{}-{}", {ports[first], ports[last]});
    first = last + 1;
  }
  return text;
}

}  // namespace portpool::detail
