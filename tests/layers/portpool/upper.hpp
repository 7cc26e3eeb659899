#pragma once
// Breaks rule 2 (a public signature names a detail type) and rule 3 (a cycle with lower.hpp).
#include <portpool/detail/lower.hpp>
namespace portpool {
class Visible {
 public:
  detail::Hidden hidden() const { return detail::Hidden{}; }

 private:
  detail::Hidden kept_;
};
}  // namespace portpool
