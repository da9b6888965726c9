// The fused MLP training step (see fused.hpp for what and why).
//
// Notation for layer l (0-based) of L: A_0 = X (the batch, m x D), and
//   Z_{l+1} = A_l W_l + b_l,  A_{l+1} = dropout(relu(Z_{l+1}))  for hidden layers,
//   S = Z_L (the scores).
// Backward, with G = dL/dZ of the layer being processed:
//   dW_l = A_l^T G,  db_l = colsum(G),  dA_l = G W_l^T,
//   G_prev = dA_l * mask_l * [Z_l > 0] = dA_l * (A_l > 0 ? keep : 0),
// since A_l > 0 exactly where the unit was both active and kept.
#include <algorithm>
#include <cmath>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>

#include "../blas.hpp"
#include "../parallel.hpp"
#include "../simd.hpp"
#include "slope/error.hpp"
#include "slope/fused.hpp"

namespace slope::train {

namespace {

// One row block's working memory: its inputs, every layer's activations, two
// gradient buffers used in turn, and (for every lane but the first, which
// writes straight into the parameters' grads) its own dW and db.
template <class T>
struct Lane {
  std::vector<T> x;
  std::vector<std::vector<T>> act;  // act[l] for l = 1..L (act[0] unused: x)
  std::vector<T> g0, g1;
  std::vector<std::vector<T>> dw, db;
  double loss = 0.0;
  std::size_t hits = 0;
};

template <class T>
T sign(T v) { return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0)); }

// Index of the first largest of c scores (nn::argmax_rows's rule).
template <class T>
std::size_t argmax(const T* row, std::size_t c) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < c; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// Softmax cross-entropy over the m rows of S (m x c): returns the summed loss,
// writes G = (p - onehot(y)) * scale and counts argmax hits. Row log-sum-exps
// in double, as the graph's op does.
template <class T>
double softmax_rows(const T* s, const std::int32_t* y, std::size_t m, std::size_t c, T scale, T* g,
                    std::size_t& hits) {
  double total = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    const T* row = s + i * c;
    T* gr = g + i * c;
    const std::size_t best = argmax(row, c);
    hits += static_cast<std::int32_t>(best) == y[i];
    const double mx = row[best];
    double sum = 0.0;
    for (std::size_t j = 0; j < c; ++j) sum += std::exp(static_cast<double>(row[j]) - mx);
    const double lse = mx + std::log(sum);
    total += lse - static_cast<double>(row[y[i]]);
    for (std::size_t j = 0; j < c; ++j)
      gr[j] = static_cast<T>(std::exp(static_cast<double>(row[j]) - lse)) * scale;
    gr[y[i]] -= scale;
  }
  return total;
}

// Multiclass SVM: L_i = sum_{j != y} max(0, s_j - s_y + 1); G as its subgradient
// (0 at the kink), times scale.
template <class T>
double svm_rows(const T* s, const std::int32_t* y, std::size_t m, std::size_t c, T scale, T* g,
                std::size_t& hits) {
  double total = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    const T* row = s + i * c;
    T* gr = g + i * c;
    hits += static_cast<std::int32_t>(argmax(row, c)) == y[i];
    const T sy = row[y[i]];
    T count = 0;
    for (std::size_t j = 0; j < c; ++j) {
      const T margin = row[j] - sy + T(1);
      const bool on = static_cast<std::int32_t>(j) != y[i] && margin > T(0);
      gr[j] = on ? scale : T(0);
      if (on) {
        total += static_cast<double>(margin);
        count += T(1);
      }
    }
    gr[y[i]] = -count * scale;
  }
  return total;
}

// The elementwise kernels take everything as arguments (no captured
// references, restrict pointers), so that each loop vectorizes: a factor read
// through a lambda's reference capture kept the ReLU backward scalar.

// Z = max(Z + b, 0) row by row, then times the dropout mask if any.
template <class T>
void bias_relu(T* __restrict z, const T* __restrict b, std::size_t m, std::size_t h,
               const T* __restrict mask) {
  for (std::size_t i = 0; i < m; ++i) {
    T* __restrict row = z + i * h;
    for (std::size_t j = 0; j < h; ++j) row[j] = std::max(row[j] + b[j], T(0));
    if (mask)
      for (std::size_t j = 0; j < h; ++j) row[j] *= mask[i * h + j];
  }
}

// G = dA * (A > 0 ? pass : 0): through dropout (pass = 1/(1-p)) and ReLU.
template <class T>
void through_relu(T* __restrict g, const T* __restrict a, std::size_t n, T pass) {
  for (std::size_t i = 0; i < n; ++i) g[i] = a[i] > T(0) ? g[i] * pass : T(0);
}

// db = colsum(G) for G of m rows of h.
template <class T>
void column_sums(const T* __restrict g, std::size_t m, std::size_t h, T* __restrict db) {
  std::fill(db, db + h, T(0));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < h; ++j) db[j] += g[i * h + j];
}

}  // namespace

template <class T>
struct FusedStep<T>::Impl {
  std::vector<TensorT<T>> W, b;
  std::vector<std::size_t> sizes;  // D, H1, ..., C
  std::vector<Lane<T>> lanes;
  std::vector<std::vector<T>> masks;  // per hidden layer, max_batch x H (dropout only)
  std::vector<std::int32_t> labels;
  std::vector<double> reg_parts;      // per thread
  std::size_t n = 0;                  // rows of the last batch
  std::size_t split = 1;              // threads the last batch was split over
  detail::WorkerPool pool;

  explicit Impl(int threads) : pool(threads) {}
  std::size_t layers() const { return W.size(); }
};

template <class T>
FusedStep<T>::FusedStep(const nn::MLP<T>& model, FusedOptions o) : options_(std::move(o)) {
  const auto& opt = options_;
  if (opt.loss != "softmax" && opt.loss != "svm")
    throw ValueError(fmt::format("FusedStep: loss must be softmax or svm: got '{}'", opt.loss));
  if (opt.reg != "none" && opt.reg != "l2" && opt.reg != "l1" && opt.reg != "elastic")
    throw ValueError(fmt::format("FusedStep: reg must be none, l2, l1 or elastic: got '{}'", opt.reg));
  if (!(opt.lambda >= 0.0)) throw ValueError(fmt::format("FusedStep: lambda must be >= 0: got {}", opt.lambda));
  if (!(opt.beta >= 0.0)) throw ValueError(fmt::format("FusedStep: beta must be >= 0: got {}", opt.beta));
  if (!(opt.dropout >= 0.0 && opt.dropout < 1.0))
    throw ValueError(fmt::format("FusedStep: dropout must be in [0, 1): got {}", opt.dropout));
  if (opt.max_batch == 0) throw ValueError("FusedStep: max_batch must be positive, got 0");
  if (opt.threads < 1) throw ValueError(fmt::format("FusedStep: threads must be >= 1: got {}", opt.threads));

  impl_ = std::make_unique<Impl>(opt.threads);
  Impl& im = *impl_;
  im.sizes = model.sizes();
  for (const auto& layer : model.layers()) {
    im.W.push_back(layer.W);
    im.b.push_back(layer.b);
  }
  // Every parameter gets a gradient buffer now (zeros, so an optimizer step
  // before the first run() changes nothing); run() overwrites it each step.
  for (auto* group : {&im.W, &im.b})
    for (auto& p : *group) {
      auto& node = *p.node();
      if (!node.has_grad || node.grad.shape() != node.value.shape()) {
        node.grad = xt::xarray<T>::from_shape(node.value.shape());
        node.grad.fill(T(0));
      }
      node.has_grad = true;
    }

  const std::size_t L = im.layers(), threads = static_cast<std::size_t>(opt.threads);
  const std::size_t rows_per_lane = (opt.max_batch + threads - 1) / threads;
  const std::size_t widest = *std::max_element(im.sizes.begin() + 1, im.sizes.end());
  im.lanes.resize(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    Lane<T>& lane = im.lanes[t];
    // Lane 0 also runs whole batches alone (steps too small to split).
    const std::size_t rows = t == 0 ? opt.max_batch : rows_per_lane;
    lane.x.resize(rows * im.sizes[0]);
    lane.act.resize(L + 1);
    for (std::size_t l = 1; l <= L; ++l) lane.act[l].resize(rows * im.sizes[l]);
    lane.g0.resize(rows * widest);
    lane.g1.resize(rows * widest);
    if (t == 0) continue;
    for (std::size_t l = 0; l < L; ++l) {
      lane.dw.emplace_back(im.sizes[l] * im.sizes[l + 1]);
      lane.db.emplace_back(im.sizes[l + 1]);
    }
  }
  if (opt.dropout > 0.0)
    for (std::size_t l = 1; l < L; ++l) im.masks.emplace_back(opt.max_batch * im.sizes[l]);
  im.labels.resize(opt.max_batch);
  im.reg_parts.resize(threads);
}

template <class T>
FusedStep<T>::~FusedStep() = default;

template <class T>
std::span<const std::int32_t> FusedStep<T>::labels() const {
  return {impl_->labels.data(), impl_->n};
}

template <class T>
FusedResult FusedStep<T>::run(const data::Dataset& data, std::span<const std::size_t> indices,
                              const data::Preprocess& prep, Rng& dropout_rng) {
  Impl& im = *impl_;
  const FusedOptions& opt = options_;
  const std::size_t n = indices.size(), L = im.layers();
  if (n == 0) throw ValueError("FusedStep::run: the batch is empty");
  if (n > opt.max_batch)
    throw ValueError(fmt::format("FusedStep::run: batch of {} rows exceeds max_batch {}", n, opt.max_batch));
  if (data.dim() != im.sizes[0])
    throw ShapeError(fmt::format("FusedStep::run: {} has {} values per example, the model takes {}",
                                 data.name, data.dim(), im.sizes[0]));
  im.n = n;

  // Masks first, on this thread, in the graph's order: layer by layer, row-major.
  const T keep = static_cast<T>(1.0 / (1.0 - opt.dropout));
  for (auto& mask : im.masks)
    for (std::size_t i = 0, count = n * (mask.size() / opt.max_batch); i < count; ++i)
      mask[i] = dropout_rng.uniform() < opt.dropout ? T(0) : keep;
  const T pass = opt.dropout > 0.0 ? keep : T(1);  // dA -> G factor where A > 0

  // Row blocks in parallel only when a step has enough work to pay for the
  // hand-offs; a small model (the linear classifier) runs on one thread.
  double flops = 0.0;
  for (std::size_t l = 0; l < L; ++l) flops += 4.0 * static_cast<double>(n * im.sizes[l] * im.sizes[l + 1]);
  const std::size_t threads = flops >= opt.min_parallel_flops ? im.lanes.size() : 1;
  im.split = threads;
  const std::size_t block = (n + threads - 1) / threads;
  const T scale = T(1) / static_cast<T>(n);

  // Phase 1: each lane runs forward and backward on its rows.
  auto lane_work = [&](int ti) {
    const auto t = static_cast<std::size_t>(ti);
    Lane<T>& lane = im.lanes[t];
    lane.loss = 0.0;
    lane.hits = 0;
    const std::size_t r0 = std::min(n, t * block), m = std::min(n, r0 + block) - r0;
    if (m == 0) return;
    const int mi = static_cast<int>(m);
    data::gather(data, indices.subspan(r0, m), prep, lane.x.data(), im.labels.data() + r0);
    const T* in = lane.x.data();
    for (std::size_t l = 0; l < L; ++l) {
      const std::size_t k = im.sizes[l], h = im.sizes[l + 1];
      T* z = lane.act[l + 1].data();
      detail::gemm(false, false, mi, static_cast<int>(h), static_cast<int>(k), T(1), in,
                   static_cast<int>(k), im.W[l].data(), static_cast<int>(h), T(0), z,
                   static_cast<int>(h));
      const T* bias = im.b[l].data();
      if (l + 1 == L) {
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < h; ++j) z[i * h + j] += bias[j];
      } else {
        bias_relu(z, bias, m, h, im.masks.empty() ? nullptr : im.masks[l].data() + r0 * h);
      }
      in = z;
    }
    const std::size_t c = im.sizes[L];
    T* g = lane.g0.data();
    T* spare = lane.g1.data();
    const std::int32_t* y = im.labels.data() + r0;
    lane.loss = opt.loss == "softmax" ? softmax_rows(in, y, m, c, scale, g, lane.hits)
                                      : svm_rows(in, y, m, c, scale, g, lane.hits);
    for (std::size_t l = L; l-- > 0;) {
      const std::size_t k = im.sizes[l], h = im.sizes[l + 1];
      const T* a = l == 0 ? lane.x.data() : lane.act[l].data();
      T* dw = t == 0 ? im.W[l].node()->grad.data() : lane.dw[l].data();
      T* db = t == 0 ? im.b[l].node()->grad.data() : lane.db[l].data();
      // dW = A^T G (the transpose is a flag), db = colsum(G)
      detail::gemm(true, false, static_cast<int>(k), static_cast<int>(h), mi, T(1), a,
                   static_cast<int>(k), g, static_cast<int>(h), T(0), dw, static_cast<int>(h));
      column_sums(g, m, h, db);
      if (l == 0) break;  // the input needs no gradient
      // dA = G W^T, then through dropout and ReLU
      detail::gemm(false, true, mi, static_cast<int>(k), static_cast<int>(h), T(1), g,
                   static_cast<int>(h), im.W[l].data(), static_cast<int>(h), T(0), spare,
                   static_cast<int>(k));
      through_relu(spare, a, m * k, pass);
      std::swap(g, spare);
    }
  };

  // Phase 2: grads += the other lanes' parts and the regularizer's gradient,
  // each thread over its slice of every parameter.
  const std::size_t active = (n + block - 1) / block;
  const double lambda = opt.lambda, beta = opt.beta;
  const int reg = opt.reg == "l2" ? 1 : opt.reg == "l1" ? 2 : opt.reg == "elastic" ? 3 : 0;
  auto reduce_work = [&](int ti) {
    const auto t = static_cast<std::size_t>(ti);
    double reg_sum = 0.0;
    for (std::size_t l = 0; l < L; ++l) {
      for (int which = 0; which < 2; ++which) {
        TensorT<T>& p = which == 0 ? im.W[l] : im.b[l];
        T* grad = p.node()->grad.data();
        const std::size_t size = p.size(), part = (size + threads - 1) / threads;
        const std::size_t lo = std::min(size, t * part), hi = std::min(size, lo + part);
        for (std::size_t u = 1; u < active; ++u) {
          const T* __restrict other = which == 0 ? im.lanes[u].dw[l].data() : im.lanes[u].db[l].data();
          for (std::size_t i = lo; i < hi; ++i) grad[i] += other[i];
        }
        if (which == 1 || reg == 0 || lambda == 0.0) continue;
        const T* __restrict w = p.data();
        const T lam = static_cast<T>(lambda), two_l2 = static_cast<T>(2.0 * lambda * (reg == 3 ? beta : 1.0));
        double sq = 0.0, ab = 0.0;
        if (reg != 2) {  // L2 part: R += sum w^2, dR/dw = 2w
          sq = detail::sum_squares(w + lo, hi - lo);
          for (std::size_t i = lo; i < hi; ++i) grad[i] += two_l2 * w[i];
        }
        if (reg != 1) {  // L1 part: R += sum |w|, dR/dw = sign(w)
          ab = detail::sum_abs(w + lo, hi - lo);
          for (std::size_t i = lo; i < hi; ++i) grad[i] += lam * sign(w[i]);
        }
        reg_sum += lambda * ((reg == 3 ? beta : 1.0) * sq + ab);
      }
    }
    im.reg_parts[t] = reg_sum;
  };

  // Row blocks run with single-threaded BLAS side by side; restore the setting after.
  if (threads == 1) {
    std::fill(im.reg_parts.begin(), im.reg_parts.end(), 0.0);
    for (auto& lane : im.lanes) lane.loss = 0.0, lane.hits = 0;
    lane_work(0);
    reduce_work(0);
    return collect(n);
  }
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  try {
    im.pool.run(lane_work);
    im.pool.run(reduce_work);
  } catch (...) {
    openblas_set_num_threads(blas_threads);
    throw;
  }
  openblas_set_num_threads(blas_threads);
  return collect(n);
}

template <class T>
FusedResult FusedStep<T>::collect(std::size_t n) const {
  const Impl& im = *impl_;
  FusedResult r;
  for (const auto& lane : im.lanes) {
    r.data_loss += lane.loss;
    r.hits += lane.hits;
  }
  r.data_loss /= static_cast<double>(n);
  for (double part : im.reg_parts) r.reg_loss += part;
  return r;
}

template <class T>
void FusedStep<T>::update(optim::Optimizer<T>& optimizer) {
  Impl& im = *impl_;
  if (im.split <= 1) {
    optimizer.step();
    return;
  }
  optimizer.begin_step();
  const std::size_t threads = im.lanes.size(), count = optimizer.parameters().size();
  auto work = [&](int ti) {
    const auto t = static_cast<std::size_t>(ti);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t size = optimizer.parameters()[i].size(), part = (size + threads - 1) / threads;
      const std::size_t lo = std::min(size, t * part);
      optimizer.update(i, lo, std::min(size, lo + part));
    }
  };
  im.pool.run(work);
}

template class FusedStep<float>;
template class FusedStep<double>;

}  // namespace slope::train
