// Breaks rule 5: using namespace of a detail namespace.
#include <portpool/portpool.hpp>
using namespace portpool::detail;
int main() { return 0; }
