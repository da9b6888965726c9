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

}  // namespace slope
