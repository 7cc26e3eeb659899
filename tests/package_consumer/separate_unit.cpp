// The one unit of separate_consumer that compiles portpool's core.
#include <portpool/src.hpp>
