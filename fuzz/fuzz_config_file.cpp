// Fuzzes the config-file loader: any text must give a validated table or a ConfigError, never a
// crash or another exception, and a table it accepts must answer for each of its services.

#include <portpool/config_file.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto table = portpool::load_table(text, "fuzz.toml");
    for (const auto& service : table.services()) {
      for (unsigned instance = 1; instance <= std::min(table.layout().max, 3U); ++instance) {
        auto pool = table.search_order(service, instance);
        if (pool.empty() || std::find(pool.begin(), pool.end(), 0) != pool.end()) {
          std::abort();
        }
      }
    }
  } catch (const portpool::ConfigError&) {
  }
  return 0;
}
