#pragma once
// Breaks rule 4: every detail:: entity becomes visible as portpool::.
#include <portpool/detail/lower.hpp>
namespace portpool {
using namespace detail;
inline void allowed_in_a_body() {
  using namespace portpool::detail;
}
}  // namespace portpool
