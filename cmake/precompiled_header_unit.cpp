// The one unit of a precompiled header target (cmake/portpool_precompiled_headers.cmake): CMake
// compiles the header beside it; the unit itself has nothing to compile.
