// Allowed: the fleet component is part of the library and may use the core's detail headers.
#include <portpool/detail/names.hpp>
bool valid(const char* name) { return portpool::detail::is_valid_name(name); }
