#include "slope/runtime.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include "parallel.hpp"
#include "slope/error.hpp"

namespace slope {

void set_num_threads(int threads) {
  if (threads < 1 || threads > kMaxThreads)
    throw ValueError(fmt::format("threads must be in [1, {}]: got {}", kMaxThreads, threads));
  openblas_set_num_threads(threads);
  detail::resize_thread_pool(threads);
}

int num_threads() { return detail::thread_pool().size(); }

}  // namespace slope
