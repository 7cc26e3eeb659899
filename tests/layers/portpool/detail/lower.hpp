#pragma once
// Breaks rule 1: a detail header that includes a public one.
#include <portpool/upper.hpp>
namespace portpool::detail {
struct Hidden {};
}  // namespace portpool::detail
