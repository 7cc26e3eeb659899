#pragma once

// A core header that includes Boost.Asio: check_core_without_asio.py must refuse it.

#include <boost/asio/ip/address.hpp>
