# Installs the pinned MCP TypeScript SDK (package-lock.json) into SDK_DIR with `npm ci`, unless
# the install there already matches the lock file. Run as: cmake -DNPM=... -DSDK_DIR=... -P install_sdk.cmake
set(installed_lock "${SDK_DIR}/node_modules/.package-lock.json")
if(EXISTS "${installed_lock}" AND "${installed_lock}" IS_NEWER_THAN "${SDK_DIR}/package-lock.json")
  message(STATUS "the MCP SDK in ${SDK_DIR} matches package-lock.json")
  return()
endif()
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error
  WORKING_DIRECTORY "${SDK_DIR}"
  TIMEOUT 300
  RESULT_VARIABLE npm_result)
if(NOT npm_result EQUAL 0)
  message(FATAL_ERROR "npm ci failed (${npm_result}): the MCP SDK could not be installed from the npm registry")
endif()
