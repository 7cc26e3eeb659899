#pragma once
// Breaks rule 4 (every detail:: entity becomes visible as portpool::) and rule 2 (an alias names a
// detail type). A variable's initialiser and a function body may use detail::.
#include <portpool/detail/lower.hpp>
namespace portpool {
using namespace detail;
using Exposed = detail::Hidden;
inline constexpr auto hidden_size = sizeof(detail::Hidden);
inline void allowed_in_a_body() { using namespace portpool::detail; }
}  // namespace portpool
