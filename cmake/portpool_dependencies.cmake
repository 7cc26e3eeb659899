# What each optional part of the build needs besides Boost and {fmt}, checked before the part is
# added, so that a missing package is named with the Debian package that provides it and the
# option that leaves the part out, instead of failing inside the part's own find_package.

# portpool_require_package(<package> VERSION <v> NAME <shown name> DEBIAN <package> FOR <part> OPTION <option>)
macro(portpool_require_package package)
  cmake_parse_arguments(portpool_required "" "VERSION;NAME;DEBIAN;FOR;OPTION" "" ${ARGN})
  find_package(${package} ${portpool_required_VERSION} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR
      "${portpool_required_FOR} (${portpool_required_OPTION}=ON) needs ${portpool_required_NAME} >= "
      "${portpool_required_VERSION}, which was not found. Install it (Debian: apt-get install "
      "${portpool_required_DEBIAN}), or configure with -D${portpool_required_OPTION}=OFF; the library itself "
      "needs only Boost and {fmt}.")
  endif()
endmacro()

if(PORTPOOL_BUILD_TESTS)
  portpool_require_package(Catch2 VERSION 2 NAME Catch2 DEBIAN catch2 FOR "the tests" OPTION PORTPOOL_BUILD_TESTS)
  portpool_require_package(nlohmann_json VERSION 3 NAME nlohmann/json DEBIAN nlohmann-json3-dev
    FOR "the tests" OPTION PORTPOOL_BUILD_TESTS)
endif()
# The example servers and the portpool command read config files and command lines, and speak JSON.
macro(portpool_require_service_packages part option)
  portpool_require_package(tomlplusplus VERSION 3 NAME toml++ DEBIAN libtomlplusplus-dev FOR "${part}" OPTION ${option})
  portpool_require_package(CLI11 VERSION 2 NAME CLI11 DEBIAN libcli11-dev FOR "${part}" OPTION ${option})
  portpool_require_package(nlohmann_json VERSION 3 NAME nlohmann/json DEBIAN nlohmann-json3-dev
    FOR "${part}" OPTION ${option})
endmacro()

if(PORTPOOL_BUILD_EXAMPLES)
  portpool_require_service_packages("the example servers" PORTPOOL_BUILD_EXAMPLES)
endif()
if(PORTPOOL_BUILD_TOOLS)
  portpool_require_service_packages("the portpool command" PORTPOOL_BUILD_TOOLS)
endif()
if(PORTPOOL_BUILD_BENCHMARKS)
  portpool_require_package(benchmark VERSION 1 NAME "Google Benchmark" DEBIAN libbenchmark-dev
    FOR "the benchmarks" OPTION PORTPOOL_BUILD_BENCHMARKS)
endif()
