#pragma once
// Breaks rule 1 with a quoted include.
#include "portpool/upper.hpp"
