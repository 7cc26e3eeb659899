# Warning flags for the project's own targets (tests, examples, tools); never forced on consumers.
add_library(portpool_warnings INTERFACE)
target_compile_options(portpool_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
  $<$<BOOL:${PORTPOOL_WARNINGS_AS_ERRORS}>:-Werror>)

# Sanitizers for the project's own build (CI builds the tests with address,undefined and with thread).
set(PORTPOOL_SANITIZE "" CACHE STRING "Sanitizers for the project's own targets, e.g. address,undefined or thread")
if(PORTPOOL_SANITIZE)
  add_compile_options(-fsanitize=${PORTPOOL_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${PORTPOOL_SANITIZE})
  if(PORTPOOL_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's handler invocation uses std::atomic_thread_fence, which gcc warns TSan cannot model
    # (-Wtsan); the handlers it orders are also passed through mutex-protected queues.
    add_compile_options(-Wno-tsan)
  endif()
endif()
