#pragma once

/// @file
/// The portpool version: the single source that CMake and pkg-config read.

/// The major version: 0 while the API may still change between minor versions (see CHANGELOG.md).
#define PORTPOOL_VERSION_MAJOR 0
/// The minor version.
#define PORTPOOL_VERSION_MINOR 1
/// The patch version: fixes only.
#define PORTPOOL_VERSION_PATCH 0

/// The version as a number: major * 10000 + minor * 100 + patch.
#define PORTPOOL_VERSION (PORTPOOL_VERSION_MAJOR * 10000 + PORTPOOL_VERSION_MINOR * 100 + PORTPOOL_VERSION_PATCH)
