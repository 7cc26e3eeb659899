# The library on a machine with only Boost and {fmt}: configures the project with tests, examples,
# tools and benchmarks off while every other dependency is hidden (CMAKE_DISABLE_FIND_PACKAGE_*),
# installs it, and builds a C++20 consumer through pkg-config. Then checks that each optional part,
# and the `config` component, names what is missing. Run as:
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -P library_only.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(hide_optional_packages
  -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON
  -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
  -DCMAKE_DISABLE_FIND_PACKAGE_tomlplusplus=ON -DCMAKE_DISABLE_FIND_PACKAGE_gRPC=ON
  -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON)
set(all_parts_off -DPORTPOOL_BUILD_TESTS=OFF -DPORTPOOL_BUILD_EXAMPLES=OFF -DPORTPOOL_BUILD_TOOLS=OFF
  -DPORTPOOL_BUILD_BENCHMARKS=OFF -DPORTPOOL_BUILD_FLEET=OFF)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGV}\n${output}")
  endif()
  message(STATUS "${output}")
endfunction()

# Runs the command, which must fail with output matching every one of `expected` (a list).
function(expect_failure expected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result EQUAL 0)
    message(FATAL_ERROR "succeeded, but should have failed: ${ARGN}\n${output}")
  endif()
  string(REGEX REPLACE "[ \n]+" " " flat_output "${output}")
  foreach(text IN LISTS expected)
    string(FIND "${flat_output}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "the failure does not say '${text}': ${ARGN}\n${output}")
    endif()
  endforeach()
  message(STATUS "failed as expected, saying ${expected}")
endfunction()

# 1. Library only, with only Boost and {fmt} to be found.
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" ${all_parts_off} -DPORTPOOL_INSTALL=ON
    ${hide_optional_packages})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run(${CMAKE_COMMAND} --install "${WORK_DIR}/build" --prefix "${prefix}")

# 2. A C++20 consumer through pkg-config: the package must not choose the standard.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs portpool
  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE flags_result)
if(NOT flags_result EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find the installed portpool")
endif()
if(flags MATCHES "-std=")
  message(FATAL_ERROR "portpool.pc chooses a language standard for its consumers: ${flags}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(c++ -std=c++20 ${flags} "${SOURCE_DIR}/tests/package_consumer/main_cxx20.cpp" -o "${WORK_DIR}/consumer-cxx20"
    ${flags})
run("${WORK_DIR}/consumer-cxx20")

# 3. Each optional part that is on names the package it misses, with the Debian package.
expect_failure("the tests;Catch2;catch2;-DPORTPOOL_BUILD_TESTS=OFF"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build-tests" ${all_parts_off} -DPORTPOOL_BUILD_TESTS=ON
  ${hide_optional_packages})
expect_failure("the example servers;toml++;libtomlplusplus-dev;-DPORTPOOL_BUILD_EXAMPLES=OFF"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build-examples" ${all_parts_off} -DPORTPOOL_BUILD_EXAMPLES=ON
  ${hide_optional_packages})
expect_failure("the portpool command;CLI11;libcli11-dev;-DPORTPOOL_BUILD_TOOLS=OFF"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build-tools" ${all_parts_off} -DPORTPOOL_BUILD_TOOLS=ON
  -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON)
expect_failure("the benchmarks;Google Benchmark;libbenchmark-dev;-DPORTPOOL_BUILD_BENCHMARKS=OFF"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build-benchmarks" ${all_parts_off}
  -DPORTPOOL_BUILD_BENCHMARKS=ON ${hide_optional_packages})

# 4. COMPONENTS config names toml++, whether toml++ is missing now or was when portpool was built.
expect_failure("component 'config';toml++;installed without it"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package_consumer/config_component" -B "${WORK_DIR}/config-library-only"
  "-DCMAKE_PREFIX_PATH=${prefix}")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build-with-toml" ${all_parts_off} -DPORTPOOL_INSTALL=ON)
run(${CMAKE_COMMAND} --install "${WORK_DIR}/build-with-toml" --prefix "${WORK_DIR}/full-prefix")
expect_failure("component 'config';toml++;libtomlplusplus-dev"
  ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package_consumer/config_component" -B "${WORK_DIR}/config-without-toml"
  "-DCMAKE_PREFIX_PATH=${WORK_DIR}/full-prefix" -DCMAKE_DISABLE_FIND_PACKAGE_tomlplusplus=ON)
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package_consumer/config_component" -B "${WORK_DIR}/config-with-toml"
  "-DCMAKE_PREFIX_PATH=${WORK_DIR}/full-prefix")
