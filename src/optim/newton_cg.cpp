// Hessian-free Newton-CG: conjugate gradient on (H + lambda I) d = -g with
// Hessian-vector products from a backward through the gradient's graph, a
// backtracking line search, and Levenberg-Marquardt damping.
#include "slope/optim/newton_cg.hpp"

#include <algorithm>
#include <cmath>

#include "slope/autograd.hpp"
#include "slope/optim/optimizer.hpp"

namespace slope::optim {

std::string_view to_string(NewtonCGStop stop) {
  switch (stop) {
    case NewtonCGStop::gradient_tolerance: return "gradient_tolerance";
    case NewtonCGStop::loss_tolerance: return "loss_tolerance";
    case NewtonCGStop::line_search_failed: return "line_search_failed";
    case NewtonCGStop::max_iterations: break;
  }
  return "max_iterations";
}

std::string_view to_string(CGStop stop) {
  switch (stop) {
    case CGStop::converged: return "converged";
    case CGStop::negative_curvature: return "negative_curvature";
    case CGStop::max_iterations: break;
  }
  return "max_iterations";
}

namespace {

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
// y += a x
void axpy(double a, const Vec& x, Vec& y) {
  for (std::size_t i = 0; i < x.size(); ++i) y[i] += a * x[i];
}

template <class T>
Vec flatten(const std::vector<TensorT<T>>& tensors) {
  Vec v;
  for (const auto& t : tensors) v.insert(v.end(), t.value().begin(), t.value().end());
  return v;
}

// The flat vector v cut into tensors of the shapes of `like`.
template <class T>
std::vector<TensorT<T>> unflatten(const Vec& v, const std::vector<TensorT<T>>& like) {
  std::vector<TensorT<T>> out;
  std::size_t offset = 0;
  for (const auto& t : like) {
    TensorT<T> part = zeros_like(t);
    T* dst = part.mutable_value().data();
    for (std::size_t i = 0; i < t.size(); ++i) dst[i] = static_cast<T>(v[offset + i]);
    offset += t.size();
    out.push_back(part);
  }
  return out;
}

// The loss alone, without a graph (the line search's trial points).
template <class T>
double loss_at(const std::function<TensorT<T>()>& f) {
  NoGradGuard no_grad;
  return static_cast<double>(f().item());
}

}  // namespace

template <class T>
NewtonCG<T>::NewtonCG(std::vector<TensorT<T>> params, NewtonCGOptions options)
    : params_(std::move(params)), options_(options), damping_(options.damping) {
  check_option(options_.max_iter >= 0, "NewtonCG", "max_iter", ">= 0", options_.max_iter);
  check_option(options_.max_cg >= 1, "NewtonCG", "max_cg", ">= 1", options_.max_cg);
  check_option(options_.cg_tolerance > 0.0, "NewtonCG", "cg_tolerance", "> 0", options_.cg_tolerance);
  check_option(options_.damping >= 0.0, "NewtonCG", "damping", ">= 0", options_.damping);
  check_option(options_.damping_min >= 0.0, "NewtonCG", "damping_min", ">= 0", options_.damping_min);
  check_option(options_.max_line_search >= 0, "NewtonCG", "max_line_search", ">= 0", options_.max_line_search);
  for (const auto& p : params_) {
    if (!p.requires_grad()) throw ValueError("NewtonCG: every parameter must require a gradient");
    numel_ += p.size();
  }
  damping_ = std::max(damping_, options_.damping_min);
}

template <class T>
typename NewtonCG<T>::Vec NewtonCG<T>::flat_params() const {
  return flatten(params_);
}

template <class T>
void NewtonCG<T>::set_params(const Vec& x) {
  std::size_t offset = 0;
  for (auto p : params_) {
    T* w = p.mutable_value().data();  // moves the versions on: the old graph is no longer valid
    for (std::size_t i = 0; i < p.size(); ++i) w[i] = static_cast<T>(x[offset + i]);
    offset += p.size();
  }
}

template <class T>
NewtonCGResult NewtonCG<T>::step(const Closure& closure) {
  const NewtonCGOptions& o = options_;
  NewtonCGResult r;
  r.damping = damping_;
  for (;;) {
    // The loss and its gradient, with the gradient's graph for the products H v.
    const TensorT<T> loss = closure();
    const double f0 = static_cast<double>(loss.item());
    if (r.gradients == 0) r.initial_loss = f0;
    r.loss = f0;
    const std::vector<TensorT<T>> g_t = grad(loss, params_, {.create_graph = true, .allow_unused = true});
    ++r.gradients;
    const Vec g = flatten(g_t);
    double g_max = 0.0;
    for (double gi : g) g_max = std::max(g_max, std::abs(gi));
    if (g_max <= o.tolerance_grad) { r.stop = NewtonCGStop::gradient_tolerance; return r; }
    if (o.max_iter == 0) { r.stop = NewtonCGStop::max_iterations; return r; }
    // H v: the vector-Jacobian product of the gradient with v (H is symmetric),
    // one backward through its graph, which is kept for the next product.
    std::vector<TensorT<T>> varying;  // the gradient's parts that depend on w
    for (const auto& gk : g_t)
      if (gk.requires_grad()) varying.push_back(gk);
    const auto hessian_times = [&](const Vec& v) {
      ++r.hvps;
      if (varying.empty()) return Vec(numel_, 0.0);
      std::vector<TensorT<T>> parts = unflatten(v, params_), seeds;
      for (std::size_t k = 0; k < g_t.size(); ++k)
        if (g_t[k].requires_grad()) seeds.push_back(parts[k]);
      return flatten(grad(varying, params_, seeds, {.retain_graph = true, .allow_unused = true}));
    };

    // CG on (H + lambda I) d = -g from d = 0, truncated.
    const double g_norm = std::sqrt(dot(g, g));
    const double bound = std::min(o.cg_tolerance, std::sqrt(g_norm)) * g_norm;
    Vec d(numel_, 0.0), Hd(numel_, 0.0), r_cg(numel_), p(numel_);
    for (std::size_t i = 0; i < numel_; ++i) r_cg[i] = p[i] = -g[i];
    double rr = dot(r_cg, r_cg);
    r.cg_stop = CGStop::max_iterations;
    for (int it = 0; it < o.max_cg; ++it) {
      const Vec Hp = hessian_times(p);
      const double pAp = dot(p, Hp) + damping_ * dot(p, p);
      if (!(pAp > 0.0)) {  // no minimum along p: keep what CG has (or step along -g)
        r.cg_stop = CGStop::negative_curvature;
        ++r.negative_curvature;
        if (it == 0) d = p, Hd = Hp;
        break;
      }
      const double alpha = rr / pAp;
      axpy(alpha, p, d);
      axpy(alpha, Hp, Hd);
      axpy(-alpha, Hp, r_cg);
      axpy(-alpha * damping_, p, r_cg);
      const double rr_next = dot(r_cg, r_cg);
      if (std::sqrt(rr_next) <= bound) { r.cg_stop = CGStop::converged; break; }
      for (std::size_t i = 0; i < numel_; ++i) p[i] = r_cg[i] + (rr_next / rr) * p[i];
      rr = rr_next;
    }
    double gd = dot(g, d);
    if (!(gd < 0.0)) {  // not a descent direction (rounding): fall back to -g
      for (std::size_t i = 0; i < numel_; ++i) d[i] = -g[i];
      Hd = hessian_times(d);
      gd = -g_norm * g_norm;
    }
    const double predicted = gd + 0.5 * dot(d, Hd);  // the undamped quadratic model's change at t = 1

    // Backtracking line search: the first t in 1, 1/2, ... with f(w + t d) <= f + c1 t g.d.
    const Vec w = flat_params();
    Vec trial(numel_);
    double t = 1.0, f_t = f0, rho = 0.0;
    bool accepted = false;
    for (int ls = 0; ls <= o.max_line_search; ++ls, t *= 0.5) {
      for (std::size_t i = 0; i < numel_; ++i) trial[i] = w[i] + t * d[i];
      set_params(trial);
      f_t = loss_at(closure);
      ++r.evaluations;
      if (ls == 0) rho = predicted < 0.0 ? (f_t - f0) / predicted : 0.0;
      if (f_t <= f0 + 1e-4 * t * gd) { accepted = true; break; }
    }
    // Levenberg-Marquardt: trust the model more when it predicted well.
    if (rho < 0.25) damping_ *= 1.5;
    else if (rho > 0.75) damping_ = std::max(damping_ * (2.0 / 3.0), o.damping_min);
    r.damping = damping_;
    if (!accepted) {
      set_params(w);
      r.stop = NewtonCGStop::line_search_failed;
      return r;
    }
    ++r.iterations;
    r.step_length = t;
    r.loss = f_t;
    if (f0 - f_t < o.tolerance_change) { r.stop = NewtonCGStop::loss_tolerance; return r; }
    if (r.iterations == o.max_iter) { r.stop = NewtonCGStop::max_iterations; return r; }  // no gradient at the end
  }
}

template class NewtonCG<float>;
template class NewtonCG<double>;

}  // namespace slope::optim
