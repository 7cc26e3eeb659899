# Installs the pinned MCP TypeScript SDK (package-lock.json) into SDK_DIR with `npm ci`, unless
# the install there already matches the lock file. Run as: cmake -DNPM=... -DSDK_DIR=... -P install_sdk.cmake
set(installed_lock "${SDK_DIR}/node_modules/.package-lock.json")
if(EXISTS "${installed_lock}" AND "${installed_lock}" IS_NEWER_THAN "${SDK_DIR}/package-lock.json")
  message(STATUS "the MCP SDK in ${SDK_DIR} matches package-lock.json")
  return()
endif()
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=30000
  WORKING_DIRECTORY "${SDK_DIR}"
  TIMEOUT 300
  RESULT_VARIABLE npm_result
  OUTPUT_VARIABLE npm_output
  ERROR_VARIABLE npm_output)
if(npm_result EQUAL 0)
  return()
endif()
# Without the registry, the case that needs the SDK says it is skipped (tests/mcp/mcp_server_process.hpp);
# any other failure (a lock file that does not match, a broken package) fails here.
if(npm_output MATCHES "ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network")
  message("SKIPPED: the MCP SDK could not be fetched from the npm registry (npm ci: ${npm_result}); "
          "the case that runs the official SDK client is skipped\n${npm_output}")
  return()
endif()
message(FATAL_ERROR "npm ci failed (${npm_result}) in ${SDK_DIR}:\n${npm_output}")
