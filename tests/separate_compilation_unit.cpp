// The one unit of test_separate_compilation that compiles the library's core.
#include <portpool/src.hpp>
