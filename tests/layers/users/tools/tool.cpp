// Breaks rule 5: a program includes an impl header and names a detail:: entity.
#include "portpool/impl/lock_file.hpp"
int main() { return portpool::detail::exit_status(); }
