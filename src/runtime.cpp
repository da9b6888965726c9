#include "slope/runtime.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include "slope/error.hpp"

namespace slope {

void set_num_threads(int threads) {
  if (threads < 1) throw ValueError(fmt::format("threads must be >= 1: got {}", threads));
  openblas_set_num_threads(threads);
}

int num_threads() { return openblas_get_num_threads(); }

}  // namespace slope
