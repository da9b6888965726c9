#include "slope/landscape.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "slope/error.hpp"
#include "slope/ops.hpp"
#include "slope/optim/registry.hpp"

namespace slope::landscape {
namespace {

// The root of p in [lo, hi] by bisection; p(lo) and p(hi) must differ in
// sign. Finds the critical points of the double well.
template <class P>
double bisect(P p, double lo, double hi) {
  const bool rising = p(hi) > p(lo);
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    ((p(mid) > 0.0) == rising ? hi : lo) = mid;
  }
  return 0.5 * (lo + hi);
}

std::string joined(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

double Surface::lr(std::string_view optimizer) const {
  for (const auto& [name, rate] : learning_rates)
    if (name == optimizer) return rate;
  std::vector<std::string> known;
  for (const auto& entry : learning_rates) known.push_back(entry.first);
  throw ValueError(fmt::format("landscape: no default learning rate for optimizer '{}' on surface "
                               "'{}': it has {}",
                               optimizer, name, joined(known)));
}

double Surface::value(Point p) const {
  NoGradGuard no_grad;
  return f(scalar<double>(p.x), scalar<double>(p.y)).item();
}

Surface valley() {
  Surface s;
  s.name = "valley";
  s.formula = "f(x, y) = 0.05 x^2 + 2.5 y^2";
  s.description = "a narrow valley: curvature 0.1 along x and 5 across it (condition number 50)";
  s.f = [](const Tensor64& x, const Tensor64& y) { return 0.05 * square(x) + 2.5 * square(y); };
  s.window = {-10.0, 3.0, -1.6, 1.6};
  s.start = {-9.0, 1.2};
  s.global_minima = {{0.0, 0.0}};
  s.steep_axis = 1;
  // SGD is stable for lr < 2 / 5 = 0.4 (the steep curvature); 0.36 is near
  // that limit and 0.42 beyond it. RMSProp's first step is 10 lr per coordinate.
  s.learning_rates = {{"sgd", 0.36},     {"sgd-large", 0.42}, {"momentum", 0.1},
                      {"nesterov", 0.1}, {"adagrad", 1.0},    {"rmsprop", 0.1},
                      {"adam", 0.4},     {"adam-no-bias", 0.4}, {"adamw", 0.4}};
  return s;
}

Surface saddle() {
  Surface s;
  s.name = "saddle";
  s.formula = "f(x, y) = x^2 - y^2 + 0.5 y^4";
  s.description = "a saddle at the origin between two minima at y = -1 and y = 1";
  s.f = [](const Tensor64& x, const Tensor64& y) { return square(x) - square(y) + 0.5 * pow(y, 4.0); };
  s.window = {-1.5, 1.5, -1.5, 1.5};
  s.start = {-1.2, 0.001};
  s.global_minima = {{0.0, 1.0}, {0.0, -1.0}};  // f = -0.5
  s.saddles = {{0.0, 0.0}};
  s.steep_axis = 0;
  s.learning_rates = {{"sgd", 0.05},  {"momentum", 0.05},     {"nesterov", 0.05},
                      {"adagrad", 0.1}, {"rmsprop", 0.01},     {"adam", 0.05},
                      {"adam-no-bias", 0.05}, {"adamw", 0.05}};
  return s;
}

Surface local_minimum() {
  Surface s;
  s.name = "local";
  s.formula = "f(x, y) = x^4/4 - x^2/2 + 0.2 x + y^2";
  s.description = "a shallow well (x ~ 0.88) next to a deeper one (x ~ -1.09)";
  s.f = [](const Tensor64& x, const Tensor64& y) {
    return 0.25 * pow(x, 4.0) - 0.5 * square(x) + 0.2 * x + square(y);
  };
  s.window = {-2.0, 2.4, -1.5, 1.5};
  s.start = {2.0, -1.0};
  // Critical points: the roots of df/dx = x^3 - x + 0.2.
  const auto dfdx = [](double x) { return x * x * x - x + 0.2; };
  s.global_minima = {{bisect(dfdx, -2.0, -0.6), 0.0}};
  s.local_minima = {{bisect(dfdx, 0.6, 2.0), 0.0}};
  s.saddles = {{bisect(dfdx, -0.5, 0.5), 0.0}};
  s.steep_axis = 0;
  s.learning_rates = {{"sgd", 0.05},  {"momentum", 0.02},     {"nesterov", 0.02},
                      {"adagrad", 0.2}, {"rmsprop", 0.02},     {"adam", 0.1},
                      {"adam-no-bias", 0.1}, {"adamw", 0.1}};
  return s;
}

std::vector<std::string> surface_names() { return {"valley", "saddle", "local"}; }

Surface by_name(std::string_view name) {
  if (name == "valley") return valley();
  if (name == "saddle") return saddle();
  if (name == "local") return local_minimum();
  throw ValueError(fmt::format("landscape: unknown surface '{}': choose one of {}", name,
                               joined(surface_names())));
}

std::vector<std::string> optimizer_names() {
  return {"sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"};
}

OptimizerFactory optimizer(std::string_view name, double lr) {
  // The registry's optimizers; two picture-only variants map onto them:
  // "sgd-large" is SGD (its large rate comes from the surface's table), and
  // "adam-no-bias" is Adam without bias correction (the lecture's huge first steps).
  optim::Settings s;
  s.lr = lr;
  s.weight_decay = name == "adamw" ? 1e-2 : 0.0;  // torch's AdamW default
  std::string key(name);
  if (key == "sgd-large") key = "sgd";
  if (key == "adam-no-bias") key = "adam", s.bias_correction = false;
  const optim::Entry* e = find_entry(optim::registry(), key);
  if (!e)
    throw ValueError(fmt::format("landscape: unknown optimizer '{}': choose one of {}, sgd-large, adam-no-bias",
                                 name, entry_names(optim::registry())));
  return [e, s](std::vector<Tensor64> params) { return e->f64(std::move(params), s); };
}

Path trace(const Surface& surface, const OptimizerFactory& make, std::size_t steps, Point start) {
  Tensor64 x = scalar<double>(start.x, /*requires_grad=*/true);
  Tensor64 y = scalar<double>(start.y, /*requires_grad=*/true);
  x.set_name("x");
  y.set_name("y");
  const std::unique_ptr<optim::Optimizer<double>> opt = make({x, y});
  Path path;
  for (std::size_t k = 0;; ++k) {
    const Tensor64 loss = surface.f(x, y);
    const double f = loss.item();
    if (!std::isfinite(f)) break;  // diverged: the path ends at the last finite point
    path.x.push_back(x.item());
    path.y.push_back(y.item());
    path.loss.push_back(f);
    if (k == steps) break;
    opt->zero_grad();
    loss.backward();
    opt->step();
  }
  return path;
}

Path trace(const Surface& surface, std::string_view optimizer_name, double lr, std::size_t steps,
           Point start) {
  return trace(surface, optimizer(optimizer_name, lr), steps, start);
}

Path trace(const Surface& surface, std::string_view optimizer_name, std::size_t steps) {
  return trace(surface, optimizer_name, surface.lr(optimizer_name), steps, surface.start);
}

std::vector<double> grid(const Surface& surface, std::size_t nx, std::size_t ny) {
  if (nx < 2 || ny < 2)
    throw ValueError(fmt::format("landscape::grid: needs at least 2 x 2 points: got {} x {}", nx, ny));
  std::size_t points = 0;
  if (__builtin_mul_overflow(nx, ny, &points) || points > kMaxGridPoints)
    throw ValueError(fmt::format("landscape::grid: {} x {} points are over the cap of {}", nx, ny, kMaxGridPoints));
  const Window& w = surface.window;
  xt::xarray<double> xs = xt::xarray<double>::from_shape({ny, nx});
  xt::xarray<double> ys = xt::xarray<double>::from_shape({ny, nx});
  for (std::size_t r = 0; r < ny; ++r)
    for (std::size_t c = 0; c < nx; ++c) {
      xs(r, c) = w.x0 + static_cast<double>(c) * (w.x1 - w.x0) / static_cast<double>(nx - 1);
      ys(r, c) = w.y0 + static_cast<double>(r) * (w.y1 - w.y0) / static_cast<double>(ny - 1);
    }
  NoGradGuard no_grad;
  const Tensor64 z = surface.f(Tensor64(std::move(xs)), Tensor64(std::move(ys)));
  return std::vector<double>(z.value().begin(), z.value().end());
}

double distance(Point a, Point b) { return std::hypot(a.x - b.x, a.y - b.y); }

double distance_to_global(const Surface& surface, Point p) {
  double best = std::numeric_limits<double>::infinity();
  for (const Point& m : surface.global_minima) best = std::min(best, distance(p, m));
  return best;
}

std::optional<std::size_t> arrival(const Surface& surface, const Path& path, double radius) {
  for (std::size_t k = 0; k < path.size(); ++k)
    if (distance_to_global(surface, path.point(k)) < radius) return k;
  return std::nullopt;
}

std::size_t points_near(const Path& path, Point centre, double radius) {
  std::size_t n = 0;
  for (std::size_t k = 0; k < path.size(); ++k)
    if (distance(path.point(k), centre) < radius) ++n;
  return n;
}

std::size_t sign_flips(std::span<const double> values, double centre) {
  std::size_t flips = 0;
  for (std::size_t k = 0; k + 1 < values.size(); ++k)
    if ((values[k] - centre) * (values[k + 1] - centre) < 0.0) ++flips;
  return flips;
}

std::size_t steep_sign_flips(const Surface& surface, const Path& path) {
  if (path.size() == 0) return 0;
  const Point end = path.last();
  const Point* nearest = &surface.global_minima.front();
  for (const Point& m : surface.global_minima)
    if (distance(end, m) < distance(end, *nearest)) nearest = &m;
  return surface.steep_axis == 0 ? sign_flips(path.x, nearest->x) : sign_flips(path.y, nearest->y);
}

std::vector<double> step_lengths(const Path& path) {
  std::vector<double> lengths;
  for (std::size_t k = 0; k + 1 < path.size(); ++k)
    lengths.push_back(distance(path.point(k), path.point(k + 1)));
  return lengths;
}

}  // namespace slope::landscape
