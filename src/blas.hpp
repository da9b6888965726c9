// Row-major GEMM through OpenBLAS: C = alpha op(A) op(B) + beta C, where op is
// a transpose when the flag is set. Transposes are folded into the call.
#pragma once

#include <cblas.h>

namespace slope::detail {

inline void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

inline void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// Sets OpenBLAS's thread count for its lifetime, then restores it: the row
/// shards of a step each run single-threaded products side by side.
class BlasThreads {
 public:
  explicit BlasThreads(int threads) : previous_(openblas_get_num_threads()) {
    if (threads != previous_) openblas_set_num_threads(threads);
  }
  ~BlasThreads() {
    if (openblas_get_num_threads() != previous_) openblas_set_num_threads(previous_);
  }
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  int previous_;
};

}  // namespace slope::detail
