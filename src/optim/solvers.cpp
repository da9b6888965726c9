#include "slope/optim/solvers.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "slope/autograd.hpp"
#include "slope/optim/sgd.hpp"

namespace slope::optim {

std::string_view to_string(DescentStop stop) {
  return stop == DescentStop::max_iterations ? "max_iterations" : "loss_tolerance";
}
std::string_view to_string(NewtonStop stop) {
  return stop == NewtonStop::max_iterations ? "max_iterations" : "gradient_tolerance";
}

// ---- full-batch gradient descent ---------------------------------------------------

template <class T>
DescentResult minimize(Optimizer<T>& opt, const Closure& closure, int max_iter, double tolerance) {
  check_option(max_iter >= 0, "minimize", "max_iter", ">= 0", max_iter);
  check_option(tolerance >= 0.0, "minimize", "tolerance", ">= 0", tolerance);
  DescentResult r;
  double prev = closure();
  r.losses.push_back(prev);
  while (r.iterations < max_iter) {
    opt.step();
    ++r.iterations;
    const double loss = closure();
    r.losses.push_back(loss);
    if (prev - loss < tolerance) {  // improvement below the tolerance (or a rise)
      r.stop = DescentStop::loss_tolerance;
      return r;
    }
    prev = loss;
  }
  r.stop = DescentStop::max_iterations;
  return r;
}

template <class T>
DescentResult gradient_descent(const std::vector<TensorT<T>>& params, const Closure& closure,
                               const GradientDescentOptions& options) {
  SGD<T> opt(params, {.lr = options.lr});  // w <- w - lr * grad
  return minimize(opt, closure, options.max_iter, options.tolerance);
}

// ---- random search ---------------------------------------------------------------

template <class T>
RandomSearchResult random_search(const std::vector<TensorT<T>>& params, const Closure& loss, Rng& rng,
                                 const RandomSearchOptions& options) {
  check_option(options.trials >= 1, "random_search", "trials", ">= 1", options.trials);
  check_option(options.stddev >= 0.0, "random_search", "stddev", ">= 0", options.stddev);
  RandomSearchResult r;
  r.best_loss = std::numeric_limits<double>::infinity();
  std::vector<xt::xarray<T>> best;
  for (const auto& p : params) best.push_back(p.value());
  for (int trial = 0; trial < options.trials; ++trial) {
    for (auto p : params) {
      T* w = p.mutable_value().data();
      for (std::size_t j = 0, n = p.size(); j < n; ++j) w[j] = static_cast<T>(options.stddev * rng.normal());
    }
    const double l = loss();
    r.losses.push_back(l);
    if (l < r.best_loss) {  // keep the best draw
      r.best_loss = l;
      r.best_trial = trial;
      for (std::size_t i = 0; i < params.size(); ++i) best[i] = params[i].value();
    }
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto p = params[i];
    p.mutable_value() = best[i];
  }
  return r;
}

// ---- Newton's method -------------------------------------------------------------------

std::vector<double> solve_dense(std::vector<double> a, std::vector<double> b) {
  const std::size_t n = b.size();
  if (a.size() != n * n)
    throw ShapeError(fmt::format("solve_dense: matrix has {} entries, right-hand side {}", a.size(), n));
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t piv = k;  // partial pivoting: the largest entry of column k
    for (std::size_t i = k + 1; i < n; ++i)
      if (std::abs(a[i * n + k]) > std::abs(a[piv * n + k])) piv = i;
    if (a[piv * n + k] == 0.0 || !std::isfinite(a[piv * n + k]))
      throw NumericError(fmt::format("solve_dense: the matrix is singular (column {})", k));
    if (piv != k) {
      for (std::size_t j = 0; j < n; ++j) std::swap(a[k * n + j], a[piv * n + j]);
      std::swap(b[k], b[piv]);
    }
    for (std::size_t i = k + 1; i < n; ++i) {
      const double f = a[i * n + k] / a[k * n + k];
      for (std::size_t j = k; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
      b[i] -= f * b[k];
    }
  }
  std::vector<double> x(n);
  for (std::size_t k = n; k-- > 0;) {  // back substitution
    double s = b[k];
    for (std::size_t j = k + 1; j < n; ++j) s -= a[k * n + j] * x[j];
    x[k] = s / a[k * n + k];
  }
  return x;
}

namespace {

template <class T>
std::vector<double> flat(const std::vector<TensorT<T>>& tensors) {
  std::vector<double> v;
  for (const auto& t : tensors) v.insert(v.end(), t.value().begin(), t.value().end());
  return v;
}

// Entry k of the flat parameter vector.
template <class T>
T& entry(const std::vector<TensorT<T>>& params, std::size_t k) {
  for (auto p : params) {
    if (k < p.size()) return p.mutable_value().data()[k];
    k -= p.size();
  }
  throw ValueError("newton: parameter index out of range");
}

// The symmetrised n x n Hessian at the parameters, given the gradient there
// (with its graph when exact); counts its backward passes into `passes`.
template <class T>
std::vector<double> hessian_at(const std::vector<TensorT<T>>& params, const LossClosure<T>& loss,
                               const std::vector<TensorT<T>>& grads, const NewtonOptions& o, int& passes) {
  std::size_t n = 0;
  for (const auto& p : params) n += p.size();
  std::vector<double> hess(n * n, 0.0);
  // The gradient's parts that depend on w (a part that does not has zero rows).
  std::vector<TensorT<T>> varying;
  std::vector<std::size_t> offsets;
  for (std::size_t k = 0, offset = 0; k < grads.size(); offset += grads[k].size(), ++k)
    if (grads[k].requires_grad()) varying.push_back(grads[k]), offsets.push_back(offset);
  for (std::size_t j = 0; j < n; ++j) {
    if (o.hessian == NewtonHessian::exact) {
      if (varying.empty()) continue;
      // H[j, :] = d(g . e_j)/dw: a backward through the gradient's graph (kept).
      std::vector<TensorT<T>> e;
      for (std::size_t k = 0; k < varying.size(); ++k) {
        e.push_back(zeros_like(varying[k]));
        if (j >= offsets[k] && j < offsets[k] + varying[k].size()) e.back().mutable_value().data()[j - offsets[k]] = T(1);
      }
      const std::vector<double> h = flat(grad(varying, params, e, {.retain_graph = true, .allow_unused = true}));
      std::copy(h.begin(), h.end(), hess.begin() + static_cast<std::ptrdiff_t>(j * n));
      ++passes;
      continue;
    }
    // H[:, j] = (g(w + h e_j) - g(w - h e_j)) / 2h
    T& wj = entry(params, j);
    const T w0 = wj;
    const auto gradient_at = [&](T w) {
      wj = w;
      return flat(grad(loss(), params, {.allow_unused = true}));
    };
    const std::vector<double> gp = gradient_at(static_cast<T>(w0 + o.h));
    const std::vector<double> gm = gradient_at(static_cast<T>(w0 - o.h));
    wj = w0;
    passes += 2;
    for (std::size_t i = 0; i < n; ++i) hess[i * n + j] = (gp[i] - gm[i]) / (2.0 * o.h);
  }
  for (std::size_t i = 0; i < n; ++i)  // symmetrise: H = (H + H^T) / 2
    for (std::size_t j = i + 1; j < n; ++j)
      hess[i * n + j] = hess[j * n + i] = 0.5 * (hess[i * n + j] + hess[j * n + i]);
  return hess;
}

}  // namespace

template <class T>
std::vector<double> dense_hessian(const std::vector<TensorT<T>>& params, const LossClosure<T>& loss,
                                  const NewtonOptions& o) {
  check_option(o.h > 0.0, "dense_hessian", "h", "> 0", o.h);
  int passes = 0;
  const bool exact = o.hessian == NewtonHessian::exact;
  return hessian_at(params, loss, grad(loss(), params, {.create_graph = exact, .allow_unused = true}), o, passes);
}

template <class T>
NewtonResult newton(const std::vector<TensorT<T>>& params, const LossClosure<T>& loss, const NewtonOptions& o) {
  check_option(o.max_iter >= 0, "newton", "max_iter", ">= 0", o.max_iter);
  check_option(o.h > 0.0, "newton", "h", "> 0", o.h);
  std::size_t n = 0;
  for (const auto& p : params) n += p.size();
  NewtonResult r;
  for (;;) {
    const TensorT<T> f = loss();
    r.losses.push_back(static_cast<double>(f.item()));
    // The gradient, with its graph when the Hessian is its Jacobian.
    const std::vector<TensorT<T>> grads =
        grad(f, params, {.create_graph = o.hessian == NewtonHessian::exact, .allow_unused = true});
    ++r.backward_passes;
    std::vector<double> g = flat(grads);
    double norm = 0.0;
    for (double gi : g) norm += gi * gi;
    r.gradient_norms.push_back(std::sqrt(norm));
    if (std::sqrt(norm) <= o.tolerance_grad) { r.stop = NewtonStop::gradient_tolerance; break; }
    if (r.iterations == o.max_iter) { r.stop = NewtonStop::max_iterations; break; }
    std::vector<double> hess = hessian_at(params, loss, grads, o, r.backward_passes);
    for (double& gi : g) gi = -gi;
    const std::vector<double> s = solve_dense(std::move(hess), g);  // H s = -g
    for (std::size_t k = 0; k < n; ++k) entry(params, k) += static_cast<T>(s[k]);  // w <- w + s
    ++r.iterations;
  }
  return r;
}

#define SLOPE_SOLVERS(T)                                                                              \
  template DescentResult minimize(Optimizer<T>&, const Closure&, int, double);                      \
  template DescentResult gradient_descent(const std::vector<TensorT<T>>&, const Closure&,           \
                                          const GradientDescentOptions&);                          \
  template RandomSearchResult random_search(const std::vector<TensorT<T>>&, const Closure&, Rng&,  \
                                            const RandomSearchOptions&);                           \
  template NewtonResult newton(const std::vector<TensorT<T>>&, const LossClosure<T>&, const NewtonOptions&);   \
  template std::vector<double> dense_hessian(const std::vector<TensorT<T>>&, const LossClosure<T>&,            \
                                             const NewtonOptions&);
SLOPE_SOLVERS(float)
SLOPE_SOLVERS(double)
#undef SLOPE_SOLVERS

}  // namespace slope::optim
