#include "slope/runtime.hpp"

#include <cblas.h>

#include <cstdlib>
#include <cstring>
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

const char* blas_core() { return openblas_get_corename(); }

const char* better_blas_core() {
  if (std::getenv("OPENBLAS_CORETYPE")) return nullptr;  // the user chose
  const char* core = openblas_get_corename();
  if (!core || std::strcmp(core, "Prescott") != 0) return nullptr;  // only a fallback is replaced
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

}  // namespace slope
