#include "adoption.hpp"

#include "companion_files.hpp"
#include "exit_codes.hpp"

#include <elf.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

namespace portpool::cli {
namespace {

constexpr std::string_view preload_variable = "LD_PRELOAD";
constexpr int adopted_descriptor = 3;  // the first passed socket (child_launch.hpp)

std::uint16_t parse_adopted_port(const std::string& text) {
  unsigned long value = 0;
  for (char digit : text) {
    if (digit < '0' || digit > '9' || (value = value * 10 + static_cast<unsigned long>(digit - '0')) > 65535) {
      throw UsageError(fmt::format("--adopt: '{}' is not a port number (1 to 65535)", text));
    }
  }
  if (value == 0) {
    throw UsageError(
        "--adopt 0 is not supported: a bind to port 0 asks the kernel for any free port, which never collides and "
        "needs no adoption; give the fixed port numbers CMD binds");
  }
  return static_cast<std::uint16_t>(value);
}

// Whether the notes of a PT_NOTE segment (`notes`) include Go's build id (name "Go", type 4), which
// the Go linker writes into every executable it links.
template <class NoteHeader>
bool has_go_build_id(const std::string& notes) {
  constexpr std::size_t go_build_id_type = 4;
  auto padded = [](std::size_t size) { return (size + 3) / 4 * 4; };
  for (std::size_t offset = 0; offset + sizeof(NoteHeader) <= notes.size();) {
    NoteHeader header{};
    std::memcpy(&header, notes.data() + offset, sizeof header);
    auto name = notes.substr(offset + sizeof header, header.n_namesz);
    if (header.n_type == go_build_id_type && name.substr(0, name.find('\0')) == "Go") {  // padded with NULs
      return true;
    }
    offset += sizeof header + padded(header.n_namesz) + padded(header.n_descsz);
  }
  return false;
}

template <class Header, class ProgramHeader, class NoteHeader>
ProgramLinking elf_linking(std::ifstream& file) {
  constexpr std::size_t largest_note_segment = std::size_t{64} * 1024;
  Header header{};
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(&header), sizeof header) || header.e_phentsize < sizeof(ProgramHeader)) {
    return ProgramLinking::unknown;
  }
  bool interpreter = false;
  bool go = false;
  for (unsigned index = 0; index < header.e_phnum; ++index) {
    ProgramHeader program_header{};
    file.seekg(static_cast<std::streamoff>(header.e_phoff + index * header.e_phentsize));
    if (!file.read(reinterpret_cast<char*>(&program_header), sizeof program_header)) {
      return ProgramLinking::unknown;
    }
    interpreter = interpreter || program_header.p_type == PT_INTERP;
    if (program_header.p_type == PT_NOTE && program_header.p_filesz <= largest_note_segment && !go) {
      std::string notes(program_header.p_filesz, '\0');
      file.seekg(static_cast<std::streamoff>(program_header.p_offset));
      go = file.read(notes.data(), static_cast<std::streamsize>(notes.size())) && has_go_build_id<NoteHeader>(notes);
    }
  }
  if (go) {
    return ProgramLinking::go;
  }
  return interpreter ? ProgramLinking::dynamic : ProgramLinking::static_executable;
}

}  // namespace

const char* to_string(AdoptMode mode) { return mode == AdoptMode::seccomp ? "seccomp" : "preload"; }

std::vector<std::uint16_t> parse_adopted_ports(const std::string& list) {
  std::vector<std::uint16_t> ports;
  std::istringstream items(list + ",");  // a trailing comma is an empty item
  for (std::string item; std::getline(items, item, ',');) {
    if (item.empty()) {
      throw UsageError(fmt::format(
          "--adopt '{}' has an empty item: give port numbers separated by commas, such as --adopt 8000,8001", list));
    }
    auto port = parse_adopted_port(item);
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) {
      ports.push_back(port);
    }
  }
  return ports;
}

ProgramLinking program_linking(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::array<unsigned char, EI_NIDENT> identification{};
  if (!file.read(reinterpret_cast<char*>(identification.data()), identification.size())) {
    return identification[0] == '#' && identification[1] == '!' ? ProgramLinking::script : ProgramLinking::unknown;
  }
  if (identification[0] == '#' && identification[1] == '!') {
    return ProgramLinking::script;
  }
  if (std::memcmp(identification.data(), ELFMAG, SELFMAG) != 0) {
    return ProgramLinking::unknown;
  }
  switch (identification[EI_CLASS]) {
    case ELFCLASS64:
      return elf_linking<Elf64_Ehdr, Elf64_Phdr, Elf64_Nhdr>(file);
    case ELFCLASS32:
      return elf_linking<Elf32_Ehdr, Elf32_Phdr, Elf32_Nhdr>(file);
    default:
      return ProgramLinking::unknown;
  }
}

AdoptMode chosen_adopt_mode(const std::string& requested, const std::string& program) {
  if (requested == "preload") {
    return AdoptMode::preload;
  }
  if (requested == "seccomp") {
    return AdoptMode::seccomp;
  }
  auto linking = program_linking(program);
  return linking == ProgramLinking::static_executable || linking == ProgramLinking::go ? AdoptMode::seccomp
                                                                                       : AdoptMode::preload;
}

std::string adopt_library_path() {
  if (auto found = find_companion(PORTPOOL_ADOPT_LIBRARY_NAME)) {
    return found->string();
  }
  auto candidates = companion_candidates(PORTPOOL_ADOPT_LIBRARY_NAME);
  throw CommandError(fmt::format("--adopt-mode preload needs the library {}, which is neither at {} nor at {}: it is "
                                 "installed with the portpool command (reinstall it), or use --adopt-mode seccomp",
                                 PORTPOOL_ADOPT_LIBRARY_NAME, candidates[0].string(), candidates[1].string()),
                     exit_code::unavailable);
}

std::vector<std::string> with_preload_environment(std::vector<std::string> environment,
                                                  const std::vector<std::uint16_t>& ports, const std::string& library) {
  if (library.find_first_of(": ") != std::string::npos) {
    throw CommandError(fmt::format("--adopt-mode preload cannot name the library {} in LD_PRELOAD, which separates "
                                   "paths with ':' and spaces: install portpool under a path without them",
                                   library),
                       exit_code::unavailable);
  }
  auto prefix = std::string(preload_variable) + "=";
  auto preload = std::find_if(environment.begin(), environment.end(),
                              [&prefix](const std::string& entry) { return entry.rfind(prefix, 0) == 0; });
  if (preload == environment.end() || preload->size() == prefix.size()) {
    environment.erase(std::remove_if(environment.begin(), environment.end(),
                                     [&prefix](const std::string& entry) { return entry.rfind(prefix, 0) == 0; }),
                      environment.end());
    environment.push_back(prefix + library);
  } else {
    preload->insert(prefix.size(), library + ":");
  }
  environment.push_back("PORTPOOL_ADOPT_PORTS=" + port_list(ports));
  environment.push_back(fmt::format("PORTPOOL_ADOPT_FD={}", adopted_descriptor));
  return environment;
}

std::string port_list(const std::vector<std::uint16_t>& ports) { return fmt::format("{}", fmt::join(ports, ",")); }

}  // namespace portpool::cli
