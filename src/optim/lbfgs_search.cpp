// L-BFGS, part two: the strong-Wolfe line search (Nocedal & Wright, Alg. 3.5
// and 3.6, as torch.optim.lbfgs._strong_wolfe runs it) and the saved state.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <xtensor/xadapt.hpp>

#include "slope/optim/lbfgs.hpp"

namespace slope::optim {
namespace {

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
// clamped to [lo, hi] (default: the interval between x1 and x2); the midpoint
// of the bounds if the cubic has no minimum.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         double lo, double hi) {
  const double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0.0) {
    const double d2 = std::sqrt(d2_square);
    const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
                                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
    return std::min(std::max(min_pos, lo), hi);
  }
  return (lo + hi) / 2.0;
}
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2) {
  return cubic_interpolate(x1, f1, g1, x2, f2, g2, std::min(x1, x2), std::max(x1, x2));
}

}  // namespace

// Finds t along d satisfying the strong Wolfe conditions
//   f(x + t d) <= f + c1 t g.d      (sufficient decrease)
//   |g(x + t d).d| <= -c2 g.d       (curvature)
// with c1 = 1e-4, c2 = 0.9, at most 25 evaluations: first bracket, then zoom.
template <class T>
typename LBFGS<T>::Search LBFGS<T>::strong_wolfe(const Closure& closure, const Vec& x, double t,
                                                 const Vec& d, double f, const Vec& g, double gtd) {
  constexpr double c1 = 1e-4, c2 = 0.9;
  constexpr int max_ls = 25;
  const double tolerance_change = options_.tolerance_change;
  double d_norm = 0.0;
  for (double di : d) d_norm = std::max(d_norm, std::abs(di));

  auto [f_new, g_new] = evaluate_at(closure, x, t, d);
  int evals = 1;
  double gtd_new = dot(g_new, d);
  double t_prev = 0.0, f_prev = f, gtd_prev = gtd;
  Vec g_prev = g;
  bool done = false;
  int ls_iter = 0;
  // bracket[k], with its loss, gradient and directional derivative
  std::vector<double> bt, bf, bgtd;
  std::vector<Vec> bg;

  // ---- bracketing phase ----
  while (ls_iter < max_ls) {
    if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {
      bt = {t_prev, t}; bf = {f_prev, f_new}; bg = {g_prev, g_new}; bgtd = {gtd_prev, gtd_new};
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bt = {t}; bf = {f_new}; bg = {g_new};
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      bt = {t_prev, t}; bf = {f_prev, f_new}; bg = {g_prev, g_new}; bgtd = {gtd_prev, gtd_new};
      break;
    }
    // extrapolate, between 1.01 t and 10 t
    const double min_step = t + 0.01 * (t - t_prev), max_step = t * 10.0;
    const double tmp = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
    t_prev = tmp;
    f_prev = f_new;
    g_prev = g_new;
    gtd_prev = gtd_new;
    std::tie(f_new, g_new) = evaluate_at(closure, x, t, d);
    ++evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
  }
  if (ls_iter == max_ls) {  // no bracket found: [0, t]
    bt = {0.0, t}; bf = {f, f_new}; bg = {g, g_new};
  }

  // ---- zoom phase: shrink the bracket by cubic interpolation ----
  bool insuf_progress = false;
  std::size_t low = bf.front() <= bf.back() ? 0 : 1, high = 1 - low;
  while (!done && ls_iter < max_ls) {
    if (std::abs(bt[1] - bt[0]) * d_norm < tolerance_change) break;  // bracket too small
    t = cubic_interpolate(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1]);
    // keep t at least 10% of the bracket away from its ends
    const double hi_t = std::max(bt[0], bt[1]), lo_t = std::min(bt[0], bt[1]);
    const double eps = 0.1 * (hi_t - lo_t);
    if (std::min(hi_t - t, t - lo_t) < eps) {
      if (insuf_progress || t >= hi_t || t <= lo_t) {
        t = std::abs(t - hi_t) < std::abs(t - lo_t) ? hi_t - eps : lo_t + eps;
        insuf_progress = false;
      } else {
        insuf_progress = true;
      }
    } else {
      insuf_progress = false;
    }
    std::tie(f_new, g_new) = evaluate_at(closure, x, t, d);
    ++evals;
    gtd_new = dot(g_new, d);
    ++ls_iter;
    if (f_new > f + c1 * t * gtd || f_new >= bf[low]) {
      // not low enough: t becomes the high end
      bt[high] = t; bf[high] = f_new; bg[high] = g_new; bgtd[high] = gtd_new;
      low = bf[0] <= bf[1] ? 0 : 1;
      high = 1 - low;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;  // strong Wolfe holds
      } else if (gtd_new * (bt[high] - bt[low]) >= 0) {
        bt[high] = bt[low]; bf[high] = bf[low]; bg[high] = bg[low]; bgtd[high] = bgtd[low];
      }
      bt[low] = t; bf[low] = f_new; bg[low] = g_new; bgtd[low] = gtd_new;
    }
  }
  if (bt.size() == 1) low = 0;
  return Search{bf[low], bg[low], bt[low], evals};
}

template <class T>
OptimizerState LBFGS<T>::state() const {
  OptimizerState s;
  s.kind = "LBFGS";
  s.scalars = {{"lr", options_.lr}, {"step", static_cast<double>(n_iter_)},
               {"func_evals", static_cast<double>(func_evals_)}, {"t", t_},
               {"H_diag", h_diag_}, {"prev_loss", prev_loss_}};
  auto arr = [](const Vec& v) { return xt::xarray<double>(xt::adapt(v, {v.size()})); };
  auto list = [&](const std::vector<Vec>& vs) {
    std::vector<xt::xarray<double>> out;
    for (const auto& v : vs) out.push_back(arr(v));
    return out;
  };
  if (n_iter_ > 0) {
    s.tensors["d"] = {arr(d_)};
    s.tensors["prev_flat_grad"] = {arr(prev_flat_grad_)};
    s.tensors["old_dirs"] = list(old_dirs_);
    s.tensors["old_stps"] = list(old_stps_);
    s.tensors["ro"] = {arr(ro_)};
  }
  return s;
}

template <class T>
void LBFGS<T>::load_state(const OptimizerState& s) {
  if (s.kind != "LBFGS") throw ValueError(fmt::format("LBFGS: load_state: the state is of a {} optimizer", s.kind));
  const double lr = s.scalar("lr"), step = s.scalar("step");
  check_option(lr >= 0.0, "LBFGS", "lr", ">= 0", lr);
  auto get = [&](const char* key) -> const std::vector<xt::xarray<double>>& {
    auto it = s.tensors.find(key);
    if (it == s.tensors.end()) throw ValueError(fmt::format("LBFGS: load_state: no tensor '{}'", key));
    return it->second;
  };
  auto vec = [&](const xt::xarray<double>& a, std::size_t want, const char* key) {
    if (want != static_cast<std::size_t>(-1) && a.size() != want)
      throw ShapeError(fmt::format("LBFGS: load_state: '{}' has {} entries, expected {}", key, a.size(), want));
    return Vec(a.begin(), a.end());
  };
  Vec d, prev, ro;
  std::vector<Vec> dirs, stps;
  if (step > 0) {
    d = vec(get("d").at(0), numel_, "d");
    prev = vec(get("prev_flat_grad").at(0), numel_, "prev_flat_grad");
    for (const auto& a : get("old_dirs")) dirs.push_back(vec(a, numel_, "old_dirs"));
    for (const auto& a : get("old_stps")) stps.push_back(vec(a, numel_, "old_stps"));
    ro = vec(get("ro").at(0), dirs.size(), "ro");
    if (stps.size() != dirs.size())
      throw ValueError("LBFGS: load_state: old_dirs and old_stps differ in length");
  }
  options_.lr = lr;
  n_iter_ = static_cast<std::int64_t>(step);
  func_evals_ = static_cast<std::int64_t>(s.scalar("func_evals"));
  t_ = s.scalar("t");
  h_diag_ = s.scalar("H_diag");
  prev_loss_ = s.scalar("prev_loss");
  d_ = std::move(d);
  prev_flat_grad_ = std::move(prev);
  old_dirs_ = std::move(dirs);
  old_stps_ = std::move(stps);
  ro_ = std::move(ro);
}

// The class itself is instantiated in lbfgs.cpp; these members live here.
#define SLOPE_LBFGS_MEMBERS(T)                                                              \
  template LBFGS<T>::Search LBFGS<T>::strong_wolfe(const Closure&, const Vec&, double,     \
                                                   const Vec&, double, const Vec&, double); \
  template OptimizerState LBFGS<T>::state() const;                                         \
  template void LBFGS<T>::load_state(const OptimizerState&);
SLOPE_LBFGS_MEMBERS(float)
SLOPE_LBFGS_MEMBERS(double)
#undef SLOPE_LBFGS_MEMBERS

}  // namespace slope::optim
