// Process-wide settings of the BLAS backend.
#pragma once

namespace slope {

/// Threads OpenBLAS may use for matmul (1 or more).
void set_num_threads(int threads);
int num_threads();

}  // namespace slope
