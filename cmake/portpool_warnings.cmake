# Warning flags for the project's own targets (tests, examples, tools); never forced on consumers.
add_library(portpool_warnings INTERFACE)
target_compile_options(portpool_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
  $<$<BOOL:${PORTPOOL_WARNINGS_AS_ERRORS}>:-Werror>)
