# Installs the build to a temporary prefix, then builds and runs a consumer project against it,
# once through find_package and once through pkg-config.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGV}\n${output}")
  endif()
  message(STATUS "${output}")
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
# The consumer is built as the project was (same compiler, same sanitizers): the fleet component is
# a compiled library, and a sanitized one links only into a program with the same runtime.
set(consumer_flags)
if(CONSUMER_SANITIZE)
  set(consumer_flags "-DCMAKE_CXX_FLAGS=-fsanitize=${CONSUMER_SANITIZE}"
                     "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${CONSUMER_SANITIZE}")
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package_consumer" -B "${WORK_DIR}/build"
    "-DCMAKE_PREFIX_PATH=${prefix}" "-DPORTPOOL_EXPECT_FLEET=${EXPECT_FLEET}"
    "-DCMAKE_CXX_COMPILER=${CONSUMER_COMPILER}" ${consumer_flags})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
run("${WORK_DIR}/build/separate_consumer")
# Debian's gRPC is not built for ThreadSanitizer, which then reports races inside it: under TSan
# the fleet consumer is built and linked (the packaging is what is tested), not run.
if(EXISTS "${WORK_DIR}/build/fleet_consumer" AND NOT CONSUMER_SANITIZE MATCHES "thread")
  run("${WORK_DIR}/build/fleet_consumer")
  run("${WORK_DIR}/build/fleet_separate_consumer")
endif()

find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
  execute_process(COMMAND ${PKG_CONFIG} --cflags portpool
    OUTPUT_VARIABLE cflags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE cflags_result)
  execute_process(COMMAND ${PKG_CONFIG} --libs portpool
    OUTPUT_VARIABLE libs OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE libs_result)
  if(NOT cflags_result EQUAL 0 OR NOT libs_result EQUAL 0)
    message(FATAL_ERROR "pkg-config does not find the installed portpool")
  endif()
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  separate_arguments(libs UNIX_COMMAND "${libs}")
  run(c++ -std=c++17 ${cflags} "${SOURCE_DIR}/tests/package_consumer/main.cpp" -o "${WORK_DIR}/consumer-pkg-config" ${libs})
  run("${WORK_DIR}/consumer-pkg-config")
endif()
