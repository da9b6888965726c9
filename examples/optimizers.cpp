// Lecture section 5 on three 2-D loss landscapes: SGD, SGD + momentum,
// Nesterov, RMSProp, Adam and AdamW from the same start on the same surface.
//
//   build/examples/example_optimizers [--steps N] [--out DIR]
//
// --steps  optimizer steps per path (default 100)
// --out    directory for the pictures (default docs/img; created if missing)
//
// Prints one table per surface (slope::landscape: valley, saddle, local) with
// each optimizer's learning rate, final point, final loss, distance to the
// nearest global minimum, the first step within 0.1 of it ("arrived"), the
// points within 0.25 of a saddle ("saddle") and the sign flips of the steep
// coordinate, then the first Adam steps with and without bias correction. Writes
//   paths-valley.svg, paths-saddle.svg, paths-local.svg   contours and six paths
//   adam-bias-correction.svg                              step lengths, first 30 steps
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "slope/error.hpp"
#include "slope/landscape.hpp"
#include "slope/plot.hpp"

using namespace slope;
namespace fs = std::filesystem;

namespace {

// "arrived": the first step within this distance of a global minimum.
constexpr double kArrival = 0.1;
// "saddle": the number of points within this distance of a saddle.
constexpr double kNear = 0.25;

struct Options {
  std::size_t steps = 100;
  fs::path out = "docs/img";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) throw ValueError(fmt::format("{}: needs a value (--steps N, --out DIR)", arg));
    const std::string value = argv[++i];
    if (arg == "--steps") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 100000)
        throw ValueError(fmt::format("--steps: must be a whole number in [1, 100000]: got '{}'", value));
      o.steps = static_cast<std::size_t>(n);
    } else if (arg == "--out") {
      o.out = value;
    } else {
      throw ValueError(fmt::format("unknown option '{}': use --steps N or --out DIR", arg));
    }
  }
  return o;
}

// The legend's spelling of an optimizer name.
std::string label(std::string_view name) {
  if (name == "sgd") return "SGD";
  if (name == "sgd-large") return "SGD, lr too large";
  if (name == "momentum") return "SGD + momentum";
  if (name == "nesterov") return "Nesterov";
  if (name == "rmsprop") return "RMSProp";
  if (name == "adam") return "Adam";
  if (name == "adam-no-bias") return "Adam, no bias correction";
  if (name == "adamw") return "AdamW";
  return std::string(name);
}

// Contour levels at evenly spaced quantiles of the sampled values, so every
// surface gets lines where it has detail whatever its range.
std::vector<double> quantile_levels(std::vector<double> z, std::size_t count) {
  std::sort(z.begin(), z.end());
  std::vector<double> levels;
  for (std::size_t k = 0; k < count; ++k) {
    const double q = (static_cast<double>(k) + 0.5) / static_cast<double>(count);
    levels.push_back(z[static_cast<std::size_t>(q * static_cast<double>(z.size() - 1))]);
  }
  return levels;
}

// A coordinate or distance: four decimals, or powers of ten once it is huge.
std::string number(double v) {
  return std::abs(v) < 1e4 ? fmt::format("{:.4f}", v) : fmt::format("{:.3e}", v);
}

void print_row(const landscape::Surface& s, std::string_view name, const landscape::Path& p,
               std::size_t steps) {
  const landscape::Point end = p.last();
  const std::optional<std::size_t> arrived = landscape::arrival(s, p, kArrival);
  std::size_t near_saddle = 0;
  for (const landscape::Point& c : s.saddles) near_saddle += landscape::points_near(p, c, kNear);
  fmt::print("  {:<13} {:>5g} {:>5} {:>9} {:>9} {:>11.3e} {:>9} {:>7} {:>6} {:>6}{}\n", name, s.lr(name),
             p.size() - 1, number(end.x), number(end.y), p.loss.back(),
             number(landscape::distance_to_global(s, end)),
             arrived ? fmt::format("{}", *arrived) : std::string("-"),
             s.saddles.empty() ? std::string("-") : fmt::format("{}", near_saddle),
             landscape::steep_sign_flips(s, p), p.size() == steps + 1 ? "" : "  (diverged)");
}

// The table of one surface and its picture.
void run_surface(const landscape::Surface& s, const Options& o) {
  fmt::print("{}: {}\n  {}\n", s.name, s.formula, s.description);
  fmt::print("  start ({:g}, {:g}); global minimum", s.start.x, s.start.y);
  for (const auto& m : s.global_minima) fmt::print(" ({:.4f}, {:.4f})", m.x, m.y);
  for (const auto& m : s.local_minima) fmt::print("; local minimum ({:.4f}, {:.4f})", m.x, m.y);
  for (const auto& m : s.saddles) fmt::print("; saddle ({:.4f}, {:.4f})", m.x, m.y);
  fmt::print("\n  {:<13} {:>5} {:>5} {:>9} {:>9} {:>11} {:>9} {:>7} {:>6} {:>6}\n", "optimizer", "lr",
             "steps", "final x", "final y", "final loss", "dist min", "arrived", "saddle",
             s.steep_axis == 0 ? "flip x" : "flip y");

  constexpr std::size_t nx = 161, ny = 121;
  const std::vector<double> z = landscape::grid(s, nx, ny);
  const landscape::Window& w = s.window;
  plot::Figure fig(fmt::format("{}: {}", s.name, s.formula), 720, 480);
  fig.xlabel("x").ylabel("y").xlim(w.x0, w.x1).ylim(w.y0, w.y1);
  fig.contour(z, nx, ny, w.x0, w.x1, w.y0, w.y1, quantile_levels(z, 14));

  std::vector<std::string> names = landscape::optimizer_names();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const landscape::Path p = landscape::trace(s, names[k], o.steps);
    print_row(s, names[k], p, o.steps);
    fig.line(p.x, p.y, fmt::format("{} (lr {:g})", label(names[k]), s.lr(names[k])),
             {.color = plot::palette(k), .width = 1.6, .markers = true, .marker_size = 1.8});
  }
  // In the table only: AdaGrad, and the lecture's "with a large step SGD
  // oscillates and diverges".
  print_row(s, "adagrad", landscape::trace(s, "adagrad", o.steps), o.steps);
  if (s.name == "valley")
    print_row(s, "sgd-large", landscape::trace(s, "sgd-large", o.steps), o.steps);

  const std::vector<double> sx = {s.start.x}, sy = {s.start.y};
  fig.scatter(sx, sy, "", {.color = "black", .marker_size = 5.0});
  fig.text(s.start.x, s.start.y, "  start");
  for (const auto& m : s.global_minima) fig.text(m.x, m.y, "  global min");
  for (const auto& m : s.local_minima) fig.text(m.x, m.y, "  local min");
  for (const auto& m : s.saddles) fig.text(m.x, m.y, "  saddle");
  const fs::path file = o.out / fmt::format("paths-{}.svg", s.name);
  fig.save(file);
  fmt::print("  wrote {}\n\n", file.string());
}

double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// Adam with and without bias correction on the valley: the first steps.
void run_bias_correction(const Options& o) {
  const landscape::Surface s = landscape::valley();
  const double lr = s.lr("adam");
  const std::size_t steps = std::min<std::size_t>(30, o.steps);
  const landscape::Path with = landscape::trace(s, "adam", steps);
  const landscape::Path without = landscape::trace(s, "adam-no-bias", steps);
  const std::vector<double> a = landscape::step_lengths(with), b = landscape::step_lengths(without);
  fmt::print("adam bias correction on the valley, lr {:g}: step length / lr\n", lr);
  fmt::print("  {:>4} {:>10} {:>10}\n", "step", "corrected", "without");
  for (std::size_t t = 0; t < a.size(); ++t)
    if (t < 3 || t + 1 == 10 || t + 1 == a.size())
      fmt::print("  {:>4} {:>10.4f} {:>10.4f}\n", t + 1, a[t] / lr, b[t] / lr);
  fmt::print("  first step: |dx| = {:.4f} lr corrected, {:.4f} lr without (ratio {:.4f})\n",
             std::abs(with.x[1] - with.x[0]) / lr, std::abs(without.x[1] - without.x[0]) / lr,
             b[0] / a[0]);

  std::vector<double> t(a.size()), a_lr(a.size()), b_lr(b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    t[k] = static_cast<double>(k + 1);
    a_lr[k] = a[k] / lr;
    b_lr[k] = b[k] / lr;
  }
  plot::Figure fig("Adam on the valley: length of step t, in units of lr", 640, 400);
  fig.xlabel("step t").ylabel("|w_t - w_(t-1)| / lr");
  fig.xlim(0, static_cast<double>(t.size())).ylim(0, 1.1 * std::max(max_of(a_lr), max_of(b_lr)));
  fig.line(t, a_lr, "with bias correction", {.color = plot::palette(4), .markers = true});
  fig.line(t, b_lr, "without bias correction", {.color = plot::palette(3), .markers = true});
  const fs::path file = o.out / "adam-bias-correction.svg";
  fig.save(file);
  fmt::print("  wrote {}\n", file.string());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
    fs::create_directories(o.out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_optimizers: {}\n", e.what());
    return 2;
  }
  try {
    for (const std::string& name : landscape::surface_names()) run_surface(landscape::by_name(name), o);
    run_bias_correction(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "example_optimizers: {}\n", e.what());
    return 1;
  }
  return 0;
}
