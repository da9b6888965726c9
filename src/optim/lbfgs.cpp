// L-BFGS, following torch.optim.LBFGS line for line (so its golden values
// match): the same state, the same first step length, the same stopping tests.
// Vectors are flat over all parameters, in double.
#include "slope/optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace slope::optim {
namespace {

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
// NaN if any entry is NaN (as torch's abs().max()): a NaN gradient must never
// pass for a small one and stop the run as converged.
double max_abs(const Vec& a) {
  double m = 0.0;
  for (double x : a) {
    if (std::isnan(x)) return x;
    m = std::max(m, std::abs(x));
  }
  return m;
}
void axpy(double alpha, const Vec& x, Vec& y) {  // y += alpha * x
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += alpha * x[i];
}

}  // namespace

std::string_view to_string(LBFGSStop stop) {
  switch (stop) {
    case LBFGSStop::gradient_tolerance: return "gradient_tolerance";
    case LBFGSStop::step_tolerance: return "step_tolerance";
    case LBFGSStop::loss_tolerance: return "loss_tolerance";
    case LBFGSStop::no_descent: return "no_descent";
    case LBFGSStop::max_iterations: return "max_iterations";
    case LBFGSStop::max_evaluations: return "max_evaluations";
  }
  return "unknown";
}

template <class T>
LBFGS<T>::LBFGS(std::vector<TensorT<T>> params, LBFGSOptions o) : params_(std::move(params)), options_(o) {
  check_option(o.lr >= 0.0, "LBFGS", "lr", ">= 0", o.lr);
  check_option(o.max_iter >= 1, "LBFGS", "max_iter", ">= 1", o.max_iter);
  check_option(o.max_eval >= 0, "LBFGS", "max_eval", ">= 0", o.max_eval);
  check_option(o.tolerance_grad >= 0.0, "LBFGS", "tolerance_grad", ">= 0", o.tolerance_grad);
  check_option(o.tolerance_change >= 0.0, "LBFGS", "tolerance_change", ">= 0", o.tolerance_change);
  check_option(o.history_size >= 1, "LBFGS", "history_size", ">= 1", o.history_size);
  if (options_.max_eval == 0) options_.max_eval = options_.max_iter * 5 / 4;
  if (params_.empty()) throw ValueError("LBFGS: the parameter list is empty");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].requires_grad())
      throw ValueError(fmt::format("LBFGS: parameter {} does not require a gradient", i));
    numel_ += params_[i].size();
  }
}

template <class T>
void LBFGS<T>::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

template <class T>
void LBFGS<T>::set_lr(double lr) {
  check_option(lr >= 0.0, "LBFGS", "lr", ">= 0", lr);
  options_.lr = lr;
}

template <class T>
typename LBFGS<T>::Vec LBFGS<T>::flat_grad() const {
  Vec g;
  g.reserve(numel_);
  for (const auto& p : params_) {
    if (!p.has_grad()) {
      g.insert(g.end(), p.size(), 0.0);  // not reached by backward: a zero gradient
      continue;
    }
    const auto& a = p.grad();
    g.insert(g.end(), a.data(), a.data() + a.size());
  }
  return g;
}

template <class T>
typename LBFGS<T>::Vec LBFGS<T>::flat_params() const {
  Vec x;
  x.reserve(numel_);
  for (const auto& p : params_) x.insert(x.end(), p.data(), p.data() + p.size());
  return x;
}

template <class T>
void LBFGS<T>::set_params(const Vec& x) {
  std::size_t k = 0;
  for (auto& p : params_) {
    T* w = p.mutable_value().data();
    for (std::size_t j = 0, n = p.size(); j < n; ++j) w[j] = static_cast<T>(x[k++]);
  }
}

template <class T>
void LBFGS<T>::add_to_params(double t, const Vec& d) {  // w += t * d
  std::size_t k = 0;
  for (auto& p : params_) {
    T* w = p.mutable_value().data();
    for (std::size_t j = 0, n = p.size(); j < n; ++j) w[j] = static_cast<T>(w[j] + t * d[k++]);
  }
}

template <class T>
std::pair<double, typename LBFGS<T>::Vec> LBFGS<T>::evaluate_at(const Closure& closure, const Vec& x,
                                                                double t, const Vec& d) {
  add_to_params(t, d);
  const double loss = closure();
  Vec g = flat_grad();
  set_params(x);
  return {loss, std::move(g)};
}

template <class T>
LBFGSResult LBFGS<T>::step(const Closure& closure) {
  const auto& o = options_;
  LBFGSResult r;
  double loss = closure();
  r.initial_loss = r.loss = loss;
  int current_evals = 1;
  ++func_evals_;
  Vec g = flat_grad();
  if (max_abs(g) <= o.tolerance_grad) {  // already optimal
    r.evaluations = 1;
    r.stop = LBFGSStop::gradient_tolerance;
    return r;
  }
  const std::size_t history = static_cast<std::size_t>(o.history_size);
  int n_iter = 0;
  while (n_iter < o.max_iter) {
    ++n_iter;
    ++n_iter_;
    // ---- the direction d = -H g by the two-loop recursion ----
    if (n_iter_ == 1) {
      d_.assign(g.size(), 0.0);
      for (std::size_t i = 0; i < g.size(); ++i) d_[i] = -g[i];
      old_dirs_.clear();
      old_stps_.clear();
      ro_.clear();
      h_diag_ = 1.0;
    } else {
      Vec y = g, s = d_;
      for (std::size_t i = 0; i < y.size(); ++i) y[i] -= prev_flat_grad_[i];  // y = g_k - g_{k-1}
      for (double& si : s) si *= t_;                                          // s = t d
      const double ys = dot(y, s);
      if (ys > 1e-10) {  // curvature condition; otherwise skip the pair
        if (old_dirs_.size() == history) {
          old_dirs_.erase(old_dirs_.begin());
          old_stps_.erase(old_stps_.begin());
          ro_.erase(ro_.begin());
        }
        h_diag_ = ys / dot(y, y);  // H_0 = (s.y / y.y) I
        old_dirs_.push_back(std::move(y));
        old_stps_.push_back(std::move(s));
        ro_.push_back(1.0 / ys);
      }
      const std::size_t num_old = old_dirs_.size();
      Vec al(num_old);
      Vec q(g.size());
      for (std::size_t i = 0; i < g.size(); ++i) q[i] = -g[i];
      for (std::size_t k = num_old; k-- > 0;) {  // newest to oldest
        al[k] = dot(old_stps_[k], q) * ro_[k];
        axpy(-al[k], old_dirs_[k], q);
      }
      for (double& qi : q) qi *= h_diag_;  // r = H_0 q
      for (std::size_t k = 0; k < num_old; ++k) {  // oldest to newest
        const double be = dot(old_dirs_[k], q) * ro_[k];
        axpy(al[k] - be, old_stps_[k], q);
      }
      d_ = std::move(q);
    }
    prev_flat_grad_ = g;
    prev_loss_ = loss;
    // ---- the step length ----
    if (n_iter_ == 1) {
      double l1 = 0.0;
      for (double gi : g) l1 += std::abs(gi);
      t_ = std::min(1.0, 1.0 / l1) * o.lr;  // a cautious first step
    } else {
      t_ = o.lr;
    }
    const double gtd = dot(g, d_);  // directional derivative
    if (gtd > -o.tolerance_change) {
      r.stop = LBFGSStop::no_descent;
      break;
    }
    int ls_evals = 0;
    bool opt_cond = false;
    if (o.line_search == LineSearch::strong_wolfe) {
      const Vec x0 = flat_params();
      Search s = strong_wolfe(closure, x0, t_, d_, loss, g, gtd);
      loss = s.loss;
      g = std::move(s.grad);
      t_ = s.t;
      ls_evals = s.evals;
      add_to_params(t_, d_);
      opt_cond = max_abs(g) <= o.tolerance_grad;
    } else {
      add_to_params(t_, d_);
      if (n_iter != o.max_iter) {  // re-evaluate, except after the last iteration
        loss = closure();
        g = flat_grad();
        opt_cond = max_abs(g) <= o.tolerance_grad;
        ls_evals = 1;
      }
    }
    current_evals += ls_evals;
    func_evals_ += ls_evals;
    r.loss = loss;
    // ---- stopping tests, in torch's order ----
    if (n_iter == o.max_iter) { r.stop = LBFGSStop::max_iterations; break; }
    if (current_evals >= o.max_eval) { r.stop = LBFGSStop::max_evaluations; break; }
    if (opt_cond) { r.stop = LBFGSStop::gradient_tolerance; break; }
    if (max_abs(d_) * std::abs(t_) <= o.tolerance_change) { r.stop = LBFGSStop::step_tolerance; break; }
    if (std::abs(loss - prev_loss_) < o.tolerance_change) { r.stop = LBFGSStop::loss_tolerance; break; }
  }
  r.iterations = n_iter;
  r.evaluations = current_evals;
  return r;
}

template class LBFGS<float>;
template class LBFGS<double>;

}  // namespace slope::optim
