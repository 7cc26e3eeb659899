#pragma once

// format_message() builds the library's messages in the headers that every user of the core
// includes. Why not fmt::format: a header-only library's inline bodies are compiled by every file
// that includes them, and each fmt::format call instantiates {fmt}'s argument machinery for its own
// list of argument types, which cost every such file about a quarter of a second of g++ for the 70
// messages <portpool/port_pool_manager.hpp> reaches (bench/compile_cost.py, docs/benchmarks.md).
// format_message() is one non-template function: a message costs its call, and the core headers
// need no {fmt} at all.

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace portpool::detail {

/// One argument of format_message(): text, or an integer written in decimal as fmt::format writes it.
class MessageArgument {
 public:
  MessageArgument(std::string_view text) noexcept : text_(text) {}
  MessageArgument(const std::string& text) noexcept : text_(text) {}
  MessageArgument(const char* text) noexcept : text_(text) {}
  MessageArgument(int number) noexcept { write_decimal(magnitude_of(number), number < 0); }
  MessageArgument(long number) noexcept { write_decimal(magnitude_of(number), number < 0); }
  MessageArgument(long long number) noexcept { write_decimal(magnitude_of(number), number < 0); }
  MessageArgument(unsigned number) noexcept { write_decimal(number, false); }
  MessageArgument(unsigned long number) noexcept { write_decimal(number, false); }
  MessageArgument(unsigned long long number) noexcept { write_decimal(number, false); }
  // fmt::format writes these as "true"/"false" and as a character: spell them out at the call
  MessageArgument(bool) = delete;
  MessageArgument(char) = delete;

  std::string_view text() const noexcept {
    return digit_count_ == 0 ? text_ : std::string_view(digits_.data(), digit_count_);
  }

 private:
  static unsigned long long magnitude_of(long long number) noexcept {
    return number < 0 ? 0ULL - static_cast<unsigned long long>(number) : static_cast<unsigned long long>(number);
  }

  void write_decimal(unsigned long long magnitude, bool negative) noexcept {
    std::array<char, 20> reversed{};
    std::size_t count = 0;
    do {
      reversed[count++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude != 0);
    if (negative) {
      digits_[digit_count_++] = '-';
    }
    while (count > 0) {
      digits_[digit_count_++] = reversed[--count];
    }
  }

  std::string_view text_;
  std::array<char, 21> digits_{};
  std::size_t digit_count_ = 0;
};

/// `pattern` with each "{}" replaced by the next of `arguments`, in order.
inline std::string format_message(std::string_view pattern, std::initializer_list<MessageArgument> arguments) {
  std::string message;
  const auto* argument = arguments.begin();
  std::size_t start = 0;
  for (auto field = pattern.find("{}"); field != std::string_view::npos && argument != arguments.end();
       field = pattern.find("{}", start)) {
    message.append(pattern.substr(start, field - start));
    message.append((argument++)->text());
    start = field + 2;
  }
  message.append(pattern.substr(start));
  return message;
}

}  // namespace portpool::detail
