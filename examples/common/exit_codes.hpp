#pragma once

// The exit codes of the example services (sysexits.h values, as the portpool command uses).

namespace portpool_example::exit_code {

inline constexpr int stopped = 0;          ///< stopped by SIGINT or SIGTERM
inline constexpr int usage = 64;           ///< wrong command line
inline constexpr int port_lost = 69;       ///< the shield saw the port lost while serving
inline constexpr int system_failure = 71;  ///< anything else
inline constexpr int pool_exhausted = 75;  ///< no free port in the pool, or no free instance number
inline constexpr int unsafe_lock_dir = 77;
inline constexpr int bad_config = 78;  ///< invalid port table, unknown service, instance out of range

}  // namespace portpool_example::exit_code
