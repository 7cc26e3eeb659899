# Precompiled headers for the project's own programs (tests, the command, the examples, the
# benchmarks); never applied to consumers of the library.
#
# Parsing the library, Boost.Asio, Catch2 and the JSON, TOML and command-line libraries costs a few
# seconds in every translation unit, and generating the code of their inline functions costs more
# (docs/ci.md). With clang, a precompiled header made with -fpch-codegen also carries that code: it
# is compiled once into an object that the header's users link, and each unit then only parses and
# generates its own code. gcc has no such mode and gains little from a plain precompiled header, so
# the option is on by default only with clang.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 11)
  set(portpool_precompiled_headers_default ON)
else()
  set(portpool_precompiled_headers_default OFF)
endif()
option(PORTPOOL_PRECOMPILED_HEADERS "Precompile the headers of the project's own programs (clang: with their code)"
       ${portpool_precompiled_headers_default})

# portpool_precompiled_header(<name> HEADERS <header>... LINK <target>... [DEFINITIONS <definition>...])
#
# Makes the precompiled header <name> of HEADERS, compiled with the usage requirements of LINK, and,
# with clang, the object <name>_code of their code. Its users (portpool_use_precompiled_header) must
# have the same compile options; they may add definitions that the headers do not use.
function(portpool_precompiled_header name)
  if(NOT PORTPOOL_PRECOMPILED_HEADERS)
    return()
  endif()
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "HEADERS;LINK;DEFINITIONS")
  add_library(${name} OBJECT "${PROJECT_SOURCE_DIR}/cmake/precompiled_header_unit.cpp")
  target_link_libraries(${name} PUBLIC ${arg_LINK})
  target_compile_definitions(${name} PUBLIC ${arg_DEFINITIONS})
  target_precompile_headers(${name} PRIVATE ${arg_HEADERS})
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    return()
  endif()

  target_compile_options(${name} PRIVATE -fpch-codegen -fpch-debuginfo)
  set(header_file "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${name}.dir/cmake_pch.hxx.pch")
  set(code_object "${CMAKE_CURRENT_BINARY_DIR}/${name}_code.o")
  # Generating code reads the language options from the precompiled header; only the code
  # generation flags (optimisation, debug information, sanitizers) are given again.
  string(TOUPPER "${CMAKE_BUILD_TYPE}" build_type)
  separate_arguments(code_flags UNIX_COMMAND "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${build_type}}")
  if(PORTPOOL_SANITIZE)
    list(APPEND code_flags -fsanitize=${PORTPOOL_SANITIZE} -fno-omit-frame-pointer)
  endif()
  # One section per function and per object: the headers' code includes inline functions that no
  # program calls and that name symbols defined nowhere (internals of the C++ library, type
  # information of classes that no unit of the program uses, which UndefinedBehaviorSanitizer's
  # descriptors name); the linker drops them (--gc-sections).
  add_custom_command(
    OUTPUT "${code_object}"
    COMMAND ${CMAKE_CXX_COMPILER} ${code_flags} -ffunction-sections -fdata-sections -c "${header_file}" -o "${code_object}"
    DEPENDS "${header_file}" ${name}
    COMMENT "Compiling the code of the precompiled header ${name}"
    VERBATIM)
  add_custom_target(${name}_codegen DEPENDS "${code_object}")
  add_library(${name}_code INTERFACE)
  target_link_libraries(${name}_code INTERFACE "${code_object}")
  target_link_options(${name}_code INTERFACE -Wl,--gc-sections)
  set_target_properties(${name}_code PROPERTIES PORTPOOL_CODE_OBJECT "${code_object}")
endfunction()

# portpool_use_precompiled_header(<target> <name>): <target>'s units include the precompiled
# header <name> first, and link its code.
function(portpool_use_precompiled_header target name)
  if(NOT TARGET ${name})
    return()
  endif()
  target_precompile_headers(${target} REUSE_FROM ${name})
  if(TARGET ${name}_code)
    target_link_libraries(${target} PRIVATE ${name}_code)
    add_dependencies(${target} ${name}_codegen)
    get_target_property(code_object ${name}_code PORTPOOL_CODE_OBJECT)
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${code_object}")
  endif()
endfunction()
