// Loss landscapes: the lecture's 2-D surfaces (section 5) on which optimizers
// can be watched and compared from the same start.
//
// Each surface is a slope expression f(x, y) of two Tensor64 parameters, so
// autograd supplies its gradient and gradcheck can verify it. trace() runs one
// of slope's real optimizers (slope/optim.hpp) from a start point and records
// the path; grid() samples the same expression for contour plots. Nothing here
// draws: the numbers go to whoever plots them (examples/optimizers.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slope/optim/optimizer.hpp"
#include "slope/tensor.hpp"

namespace slope::landscape {

/// A point (x, y) of the plane.
struct Point {
  double x = 0.0;
  double y = 0.0;
};

/// The rectangle [x0, x1] x [y0, y1] a picture of the surface shows.
struct Window {
  double x0 = -1.0, x1 = 1.0, y0 = -1.0, y1 = 1.0;
};

/// f(x, y) built from slope's ops. Every op in it is elementwise, so x and y
/// may be two scalars (one point of a path) or two arrays of one shape (a grid).
using Expression = std::function<Tensor64(const Tensor64& x, const Tensor64& y)>;

/// One of the lecture's surfaces, with what is needed to draw and check it.
struct Surface {
  std::string name;         // by_name() key: "valley", "saddle", "local"
  std::string formula;      // "f(x, y) = 0.05 x^2 + 2.5 y^2"
  std::string description;  // the problem it shows, one sentence
  Expression f;
  Window window;            // where the pictures look
  Point start;              // every optimizer starts here
  std::vector<Point> global_minima;
  std::vector<Point> local_minima;  // minima that are not global
  std::vector<Point> saddles;
  /// The coordinate the sign-flip count watches (0: x, 1: y): the steep axis
  /// of the valley, the axis that leads into the saddle, the axis of the wells.
  int steep_axis = 1;
  /// A learning rate per optimizer name that lets the pictures tell the story
  /// (see optimizer_names()); "sgd-large" is SGD with a step too large.
  std::vector<std::pair<std::string, double>> learning_rates;

  /// The default learning rate of `optimizer` on this surface; ValueError
  /// naming the optimizer, the surface and the known names if there is none.
  double lr(std::string_view optimizer) const;
  /// f at one point, without recording a graph.
  double value(Point p) const;
};

/// The narrow valley: f = 0.05 x^2 + 2.5 y^2, Hessian diag(0.1, 5), condition
/// number 50. Minimum (0, 0), start (-9, 1.2); y is the steep axis.
Surface valley();
/// A saddle made bounded: f = x^2 - y^2 + 0.5 y^4. Saddle (0, 0), global minima
/// (0, -1) and (0, 1); the start (-1.2, 0.001) lies on the ridge y ~ 0, where
/// the gradient along the escape direction y is only -0.002.
Surface saddle();
/// A shallow well next to a deeper one: f = x^4/4 - x^2/2 + 0.2 x + y^2.
/// Local minimum near (0.879, 0), global near (-1.088, 0), barrier (saddle) near
/// (0.209, 0); the start (2, -1) lies beyond the shallow well.
Surface local_minimum();

/// "valley", "saddle" or "local"; ValueError naming the bad name and the choices.
Surface by_name(std::string_view name);
/// The names by_name() accepts, in the lecture's order.
std::vector<std::string> surface_names();

/// The six optimizers of the pictures, in drawing order:
/// "sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw".
std::vector<std::string> optimizer_names();

/// Builds an optimizer over the given parameters.
using OptimizerFactory =
    std::function<std::unique_ptr<optim::Optimizer<double>>(std::vector<Tensor64> params)>;

/// A factory for `name` at learning rate `lr`, with the lecture's settings:
///   sgd, sgd-large    optim::SGD, no momentum
///   momentum          optim::SGD, momentum 0.9 (v = rho v + g; w -= lr v)
///   nesterov          optim::SGD, momentum 0.9, nesterov
///   adagrad           optim::AdaGrad
///   rmsprop           optim::RMSProp, decay 0.99
///   adam              optim::Adam, beta1 0.9, beta2 0.999, bias correction on
///   adam-no-bias      optim::Adam as above without bias correction
///   adamw             optim::AdamW, weight decay 0.01
/// ValueError naming the bad name and the choices.
OptimizerFactory optimizer(std::string_view name, double lr);

/// A path on a surface: entry k is the point after k steps (entry 0 the
/// start) and the loss there. It ends early at the first non-finite loss
/// (a diverging run), so its length is at most steps + 1.
struct Path {
  std::vector<double> x, y, loss;
  /// Number of points (steps taken + 1).
  std::size_t size() const { return x.size(); }
  Point point(std::size_t k) const { return {x.at(k), y.at(k)}; }
  Point last() const { return point(size() - 1); }
};

/// Runs `steps` optimizer steps on `surface` from `start`: x and y are two
/// scalar Tensor64 parameters, and each step is zero_grad, f(x, y).backward(),
/// step(), as in any training loop.
Path trace(const Surface& surface, const OptimizerFactory& make, std::size_t steps, Point start);
/// The same with optimizer(name, lr).
Path trace(const Surface& surface, std::string_view optimizer_name, double lr, std::size_t steps,
           Point start);
/// The same with the surface's learning rate for `optimizer_name` and its start.
Path trace(const Surface& surface, std::string_view optimizer_name, std::size_t steps);

/// f on a regular nx x ny grid over the surface's window, evaluated through
/// the same expression on two (ny, nx) arrays under NoGradGuard. Row-major:
/// entry r * nx + c is at x = x0 + c (x1 - x0) / (nx - 1), y = y0 + r (y1 - y0) / (ny - 1).
/// ValueError if nx or ny is below 2, or nx * ny is over kMaxGridPoints.
inline constexpr std::size_t kMaxGridPoints = std::size_t{1} << 26;
std::vector<double> grid(const Surface& surface, std::size_t nx, std::size_t ny);

/// Euclidean distance.
double distance(Point a, Point b);
/// Distance from p to the nearest global minimum of the surface.
double distance_to_global(const Surface& surface, Point p);
/// How often `values` cross `centre`: the number of k with
/// (values[k] - centre) * (values[k + 1] - centre) < 0.
std::size_t sign_flips(std::span<const double> values, double centre = 0.0);
/// The first step k at which the path is within `radius` of a global
/// minimum (how long an optimizer takes to arrive); nullopt if it never is.
std::optional<std::size_t> arrival(const Surface& surface, const Path& path, double radius);
/// How many points of the path lie within `radius` of `centre` (how long an
/// optimizer lingers there, e.g. at a saddle).
std::size_t points_near(const Path& path, Point centre, double radius);
/// Sign flips of the path's steep coordinate around the nearest global
/// minimum's (the lecture's jitter across the valley).
std::size_t steep_sign_flips(const Surface& surface, const Path& path);
/// Lengths of the steps: entry k is |point(k + 1) - point(k)|.
std::vector<double> step_lengths(const Path& path);

}  // namespace slope::landscape
