// The lecture's section 5, checked on the paths of slope's real optimizers
// over the surfaces of slope/landscape.hpp: SGD jitters and crawls in a narrow
// valley, momentum overshoots and rolls on, RMSProp turns towards the flat
// direction, Adam's bias correction tames its first steps.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "slope/error.hpp"
#include "slope/gradcheck.hpp"
#include "slope/landscape.hpp"
#include "slope/rng.hpp"
#include "test_support.hpp"

using namespace slope;
using namespace slope::landscape;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using slope::testing::what;

namespace {

// Angle in degrees between the first step of a path and the x axis (the
// valley's flat direction): 0 along the valley, 90 straight across it.
double first_step_angle(const Path& p) {
  const double dx = p.x[1] - p.x[0], dy = p.y[1] - p.y[0];
  return std::atan2(std::abs(dy), std::abs(dx)) * 180.0 / std::numbers::pi;
}

double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

// ---- the surfaces themselves ------------------------------------------------

TEST_CASE("Every surface's autograd gradient matches centred finite differences", "[landscape]") {
  Rng rng(7);
  for (const std::string& name : surface_names()) {
    const Surface s = by_name(name);
    std::vector<Point> points = {s.start, {0.3, -0.7}};
    for (int i = 0; i < 5; ++i)
      points.push_back({rng.uniform(s.window.x0, s.window.x1), rng.uniform(s.window.y0, s.window.y1)});
    for (const Point& p : points) {
      Tensor64 x = scalar<double>(p.x, true), y = scalar<double>(p.y, true);
      const GradcheckReport r = gradcheck(
          [&](const std::vector<Tensor64>& in) { return s.f(in[0], in[1]); },
          {x.set_name("x"), y.set_name("y")}, {.h = 1e-6, .atol = 1e-7, .rtol = 1e-6});
      INFO(name << " at (" << p.x << ", " << p.y << "): " << r.message());
      CHECK(r.ok);
      CHECK(r.checked == 2);
    }
  }
}

TEST_CASE("The listed minima and saddles are critical points, and the global minimum is lowest",
          "[landscape]") {
  for (const std::string& name : surface_names()) {
    const Surface s = by_name(name);
    std::vector<Point> critical = s.global_minima;
    critical.insert(critical.end(), s.local_minima.begin(), s.local_minima.end());
    critical.insert(critical.end(), s.saddles.begin(), s.saddles.end());
    for (const Point& c : critical) {
      Tensor64 x = scalar<double>(c.x, true), y = scalar<double>(c.y, true);
      s.f(x, y).backward();
      INFO(name << " at (" << c.x << ", " << c.y << ")");
      CHECK_THAT(x.grad()(), WithinAbs(0.0, 1e-12));
      CHECK_THAT(y.grad()(), WithinAbs(0.0, 1e-12));
      CHECK(s.value(c) >= s.value(s.global_minima.front()) - 1e-15);
    }
    for (const Point& m : s.local_minima) CHECK(s.value(m) > s.value(s.global_minima.front()) + 0.1);
    CHECK(s.value(s.start) > s.value(s.global_minima.front()));
  }
}

TEST_CASE("The valley is a quadratic with condition number 50", "[landscape]") {
  const Surface s = valley();
  CHECK_THAT(s.value({1.0, 0.0}), WithinRel(0.05, 1e-15));  // curvature 0.1 along x
  CHECK_THAT(s.value({0.0, 1.0}), WithinRel(2.5, 1e-15));   // curvature 5 across
}

TEST_CASE("grid() samples the same expression row by row over the window", "[landscape]") {
  const Surface s = local_minimum();
  const std::size_t nx = 5, ny = 4;
  const std::vector<double> z = grid(s, nx, ny);
  REQUIRE(z.size() == nx * ny);
  const Window& w = s.window;
  for (std::size_t r = 0; r < ny; ++r)
    for (std::size_t c = 0; c < nx; ++c) {
      const Point p = {w.x0 + static_cast<double>(c) * (w.x1 - w.x0) / (nx - 1),
                       w.y0 + static_cast<double>(r) * (w.y1 - w.y0) / (ny - 1)};
      CHECK_THAT(z[r * nx + c], WithinRel(s.value(p), 1e-14));
    }
  CHECK(grad_enabled());  // the NoGradGuard inside is scoped
  CHECK_THROWS_MATCHES(grid(s, 1, 10), ValueError, what(Contains("got 1 x 10")));
  // nx * ny wraps around to 0 in 64 bits: refused, not allocated as 0 points and written past.
  CHECK_THROWS_MATCHES(grid(s, std::size_t{1} << 32, std::size_t{1} << 32), ValueError, what(Contains("cap")));
  CHECK_THROWS_MATCHES(grid(s, 10000, 10000), ValueError, what(Contains("10000 x 10000")));
}

TEST_CASE("by_name finds each surface and names the choices when it cannot", "[landscape]") {
  CHECK(by_name("valley").name == "valley");
  CHECK(by_name("saddle").name == "saddle");
  CHECK(by_name("local").name == "local");
  CHECK_THROWS_MATCHES(by_name("ridge"), ValueError,
                       what(Contains("'ridge'") && Contains("valley, saddle, local")));
  CHECK_THROWS_MATCHES(optimizer("adadelta", 0.1), ValueError,
                       what(Contains("'adadelta'") && Contains("rmsprop")));
  CHECK_THROWS_MATCHES(saddle().lr("sgd-large"), ValueError,
                       what(Contains("'sgd-large'") && Contains("'saddle'") && Contains("momentum")));
}

// ---- trace ----------------------------------------------------------------

TEST_CASE("trace records the start, one point per step and the loss at each", "[landscape]") {
  const Surface s = valley();
  const Path p = trace(s, "adam", 0.4, 10, s.start);
  REQUIRE(p.size() == 11);
  CHECK(p.x[0] == s.start.x);
  CHECK(p.y[0] == s.start.y);
  for (std::size_t k = 0; k < p.size(); ++k) CHECK_THAT(p.loss[k], WithinRel(s.value(p.point(k)), 1e-14));
  // SGD by hand: w <- w - lr * grad, grad = (0.1 x, 5 y).
  const Path q = trace(s, "sgd", 0.36, 1, s.start);
  CHECK_THAT(q.x[1], WithinRel(-9.0 - 0.36 * 0.1 * -9.0, 1e-15));
  CHECK_THAT(q.y[1], WithinRel(1.2 - 0.36 * 5.0 * 1.2, 1e-14));
}

TEST_CASE("A diverging path ends at its last finite point", "[landscape]") {
  const Surface s = valley();
  const Path p = trace(s, "sgd-large", 5000);  // |y| grows by 1.1 per step until it overflows
  CHECK(p.size() < 5001);
  CHECK(p.size() > 1000);
  for (double l : p.loss) CHECK(std::isfinite(l));
}

// ---- lecture claims: poor conditioning ------------------------------------

TEST_CASE("In the valley SGD jitters across and crawls along, momentum and Adam get closer",
          "[landscape][lecture]") {
  const Surface s = valley();
  const Path sgd = trace(s, "sgd", 100);
  // Jitter: the steep coordinate y changes sign at every one of the first 30 steps.
  const std::vector<double> y30(sgd.y.begin(), sgd.y.begin() + 31);
  CHECK(sign_flips(y30) == 30);
  // Crawl: after 100 steps SGD is still 0.23 from the minimum, x having shrunk by
  // only (1 - 0.36 * 0.1) per step.
  CHECK_THAT(sgd.last().x, WithinRel(-9.0 * std::pow(1.0 - 0.036, 100), 1e-9));
  const double d_sgd = distance_to_global(s, sgd.last());
  for (const char* name : {"momentum", "nesterov", "rmsprop", "adam", "adamw"}) {
    INFO(name);
    CHECK(d_sgd > 4.0 * distance_to_global(s, trace(s, name, 100).last()));
  }
  // No learning rate rescues SGD: up to the stability limit 2/5 it stays behind momentum.
  const double d_momentum = distance_to_global(s, trace(s, "momentum", 100).last());
  for (double lr : {0.1, 0.2, 0.3, 0.39}) {
    INFO("SGD lr " << lr);
    CHECK(distance_to_global(s, trace(s, "sgd", lr, 100, s.start).last()) > 4.0 * d_momentum);
  }
}

TEST_CASE("In the valley SGD with a step above 2/5 oscillates out of the valley", "[landscape][lecture]") {
  const Surface s = valley();
  const Path p = trace(s, "sgd-large", 50);
  REQUIRE(s.lr("sgd-large") > 2.0 / 5.0);
  CHECK(sign_flips(p.y) == 50);                       // still flipping every step
  CHECK(std::abs(p.y[50]) > 100.0 * std::abs(p.y[0])); // but growing by |1 - 5 lr| = 1.1
  CHECK(p.loss[50] > 1000.0 * p.loss[0]);
}

TEST_CASE("Momentum overshoots the valley's minimum and comes back", "[landscape][lecture]") {
  const Surface s = valley();
  for (const char* name : {"momentum", "nesterov", "adam"}) {
    INFO(name);
    const Path p = trace(s, name, 100);
    CHECK(p.x[0] < 0.0);
    CHECK(max_of(p.x) > 0.5);           // passes x = 0 by more than half a unit
    CHECK(std::abs(p.last().x) < 0.1);  // and returns
  }
  const Path sgd = trace(s, "sgd", 100);
  CHECK(max_of(sgd.x) < 0.0);  // SGD never reaches x = 0
}

TEST_CASE("RMSProp and Adam turn towards the valley's flat direction from the first step",
          "[landscape][lecture]") {
  const Surface s = valley();
  const double sgd = first_step_angle(trace(s, "sgd", 1));
  const double rmsprop = first_step_angle(trace(s, "rmsprop", 1));
  const double adam = first_step_angle(trace(s, "adam", 1));
  CHECK(sgd > 80.0);  // the gradient (-0.9, 6) points almost straight across
  CHECK_THAT(rmsprop, WithinAbs(45.0, 1e-4));  // g / sqrt(grad_sq) is +-10 in each coordinate
  CHECK_THAT(adam, WithinAbs(45.0, 1e-4));
  // After its first step RMSProp walks along the valley floor: |y| below 0.01 from step 4 on,
  // while x still has most of its way to go.
  const Path p = trace(s, "rmsprop", 30);
  for (std::size_t k = 4; k < p.size(); ++k) CHECK(std::abs(p.y[k]) < 0.01);
  CHECK(p.x[4] < -6.0);
}

// ---- lecture claims: local minima and saddles -----------------------------

TEST_CASE("SGD stops in the shallow well, momentum rolls through it into the deeper one",
          "[landscape][lecture]") {
  const Surface s = local_minimum();
  const Point shallow = s.local_minima.front(), deep = s.global_minima.front();
  const Point barrier = s.saddles.front();
  const Path sgd = trace(s, "sgd", 150);
  CHECK(distance(sgd.last(), shallow) < 1e-3);
  CHECK(min_of(sgd.x) > barrier.x);  // never crosses the barrier
  for (const char* name : {"momentum", "nesterov"}) {
    INFO(name);
    const Path p = trace(s, name, 150);
    CHECK(distance(p.last(), deep) < 1e-3);
    CHECK(p.loss.back() < sgd.loss.back() - 0.3);
  }
  // With these rates RMSProp, Adam and AdamW take small normalised steps and
  // stop in the shallow well as SGD does.
  for (const char* name : {"rmsprop", "adam", "adamw"}) {
    INFO(name);
    CHECK(distance(trace(s, name, 200).last(), shallow) < 0.01);
  }
}

TEST_CASE("SGD lingers at the saddle, momentum and the adaptive methods leave it", "[landscape][lecture]") {
  const Surface s = saddle();
  const Point centre = s.saddles.front();
  const std::size_t steps = 50;
  // The escape direction y starts at 0.001 and grows by only (1 + 2 lr) = 1.1 per SGD step.
  const Path sgd = trace(s, "sgd", steps);
  CHECK(points_near(sgd, centre, 0.25) >= 30);
  CHECK(sgd.loss.back() > -0.05);  // still at the saddle's level, f = 0
  for (const char* name : {"momentum", "nesterov", "rmsprop", "adam", "adamw"}) {
    INFO(name);
    const Path p = trace(s, name, steps);
    CHECK(points_near(p, centre, 0.25) <= 10);
    CHECK(p.loss.back() < -0.4);  // in one of the minima, f = -0.5
  }
  // Normalised steps never come near the saddle: the y step is lr-sized from the start.
  for (const char* name : {"rmsprop", "adam"}) CHECK(points_near(trace(s, name, steps), centre, 0.5) == 0);
}

// ---- lecture claim: Adam's bias correction ----------------------------------

TEST_CASE("Adam without bias correction makes a first step 3.16 times larger", "[landscape][lecture]") {
  const Surface s = valley();
  const double lr = s.lr("adam");
  const Path with = trace(s, "adam", 30);
  const Path without = trace(s, "adam-no-bias", 30);
  // Corrected: m_hat / sqrt(v_hat) = g / |g|, a step of lr in each coordinate.
  CHECK_THAT(std::abs(with.x[1] - with.x[0]), WithinRel(lr, 1e-6));
  CHECK_THAT(std::abs(with.y[1] - with.y[0]), WithinRel(lr, 1e-6));
  // Uncorrected: (1 - beta1) g / sqrt((1 - beta2) g^2) = 0.1 / sqrt(0.001) = 3.162 per coordinate.
  const double factor = 0.1 / std::sqrt(0.001);
  CHECK_THAT(std::abs(without.x[1] - without.x[0]), WithinRel(factor * lr, 1e-6));
  const std::vector<double> a = step_lengths(with), b = step_lengths(without);
  CHECK_THAT(b[0] / a[0], WithinRel(factor, 1e-6));
  // The uncorrected steps stay the larger ones through the first eight (v is still
  // far below g^2); after that the two paths differ and so do their step lengths.
  for (std::size_t t = 0; t < 8; ++t) CHECK(b[t] > 2.5 * a[t]);
}

// ---- helpers ----------------------------------------------------------------

TEST_CASE("sign_flips counts crossings of the centre and step_lengths the moves", "[landscape]") {
  const std::vector<double> v = {1.0, -1.0, -2.0, 3.0, 0.0, 1.0};
  CHECK(sign_flips(v) == 2);  // a touch of 0 is no crossing
  CHECK(sign_flips(v, 2.5) == 2);
  Path p;
  p.x = {0.0, 3.0, 3.0};
  p.y = {0.0, 4.0, 5.0};
  p.loss = {0.0, 0.0, 0.0};
  const std::vector<double> lengths = step_lengths(p);
  REQUIRE(lengths.size() == 2);
  CHECK(lengths[0] == 5.0);
  CHECK(lengths[1] == 1.0);
}
