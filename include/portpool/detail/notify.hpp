#pragma once

// The library prints nothing; it reports through the user's callback. A throwing callback must not
// turn a release (called from destructors) into std::terminate, so exceptions stop here.

#include <functional>
#include <utility>

namespace portpool::detail {

template <class Event>
void notify(const std::function<void(const Event&)>& on_event, const Event& event) noexcept {
  if (!on_event) {
    return;
  }
  try {
    on_event(event);
  } catch (...) {  // ignored: documented on Options::on_event
  }
}

}  // namespace portpool::detail
