#pragma once

// The C++17 detection idiom: whether an expression, written as an alias template of its type,
// is valid for some type, and which type it has. The policy concepts are checked with it.

#include <type_traits>

namespace portpool::detail {

struct Undetected {
  Undetected() = delete;
  ~Undetected() = delete;
  Undetected(const Undetected&) = delete;
  Undetected& operator=(const Undetected&) = delete;
};

template <class Default, class AlwaysVoid, template <class...> class Operation, class... Arguments>
struct Detector {
  using type = Default;
};

template <class Default, template <class...> class Operation, class... Arguments>
struct Detector<Default, std::void_t<Operation<Arguments...>>, Operation, Arguments...> {
  using type = Operation<Arguments...>;
};

/// The type of `Operation<Arguments...>`, or Undetected when it is ill-formed.
template <template <class...> class Operation, class... Arguments>
using detected_t = typename Detector<Undetected, void, Operation, Arguments...>::type;

}  // namespace portpool::detail
