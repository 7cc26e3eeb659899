#include "exhaustion_json.hpp"

#include "machine_output.hpp"

#include <portpool/holder_json.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>

namespace portpool::cli {

void print_exhaustion_json(const PoolExhausted& exhausted, const std::string& service) {
  auto refusals = nlohmann::ordered_json::array();
  for (const auto& refusal : exhausted.refusals()) {
    refusals.push_back({{"port", refusal.port},
                        {"reason", to_string(refusal.reason)},
                        {"holder", refusal.holder ? holder_json(*refusal.holder) : nlohmann::ordered_json()},
                        {"detail", refusal.detail}});
  }
  nlohmann::ordered_json report{{format_version_key, format_version},
                                {"error", "pool_exhausted"},
                                {"service", exhausted.service().empty() ? service : exhausted.service()},
                                {"message", exhausted.what()},
                                {"refusals", refusals}};
  auto text = report.dump() + '\n';
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace portpool::cli
