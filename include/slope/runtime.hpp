// Process-wide settings: how many threads slope and its BLAS backend use.
#pragma once

namespace slope {

/// The most threads set_num_threads accepts.
inline constexpr int kMaxThreads = 256;

/// Threads for matrix products (OpenBLAS) and for slope's own parallel work
/// (row shards of a training step, large elementwise ops, reductions and
/// optimizer updates): 1 to kMaxThreads. The default is OpenBLAS's (the cores).
/// ValueError outside that range.
void set_num_threads(int threads);
int num_threads();

/// The kernels OpenBLAS chose for this CPU ("Haswell", "SkylakeX", ...).
const char* blas_core();
/// When OpenBLAS fell back to its generic kernels ("Prescott") on a CPU newer
/// than it knows (OpenBLAS 0.3.21 and Intel's model 207, seen on this
/// project's machines) but the CPU runs AVX-512 or AVX2 + FMA: the core to
/// ask for instead through the environment variable OPENBLAS_CORETYPE
/// ("SkylakeX" or "Haswell"), 3 to 4 times faster at sgemm. nullptr when the
/// choice is already right or OPENBLAS_CORETYPE is set.
const char* better_blas_core();

}  // namespace slope
