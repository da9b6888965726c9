// Iso-lines by marching squares.
//
// For a level L, every grid cell whose four corners do not all lie on the same
// side of L is crossed by the iso-line. Where an edge of the cell has one end
// below L and one at or above it, the line crosses that edge at the linearly
// interpolated point t = (L - z_a) / (z_b - z_a). A cell has 0, 2 or 4 such
// edges: 2 give one segment; 4 (a saddle) give two, paired so that the corners
// on the other side of L from the cell's mean are cut off. Each crossing is
// named by its grid edge, which two neighbouring cells share, so the segments
// chain into polylines: one <path> per level, one subpath per polyline.
#include <array>
#include <unordered_map>

#include <fmt/format.h>

#include "plot_internal.hpp"

namespace slope::plot::detail {

namespace {

struct Point {
  double x, y;
};

class Contour final : public Figure::Layer {
 public:
  Contour(std::vector<double> z, std::size_t nx, std::size_t ny, double x0, double x1, double y0,
          double y1, std::vector<double> levels)
      : z_(std::move(z)), nx_(nx), ny_(ny), x0_(x0), x1_(x1), y0_(y0), y1_(y1),
        levels_(std::move(levels)) {}

  bool fills_grid() const override { return true; }

  void extent(Range& xr, Range& yr, bool log_x, bool log_y) const override {
    xr.add(x0_, log_x);
    xr.add(x1_, log_x);
    yr.add(y0_, log_y);
    yr.add(y1_, log_y);
  }

  void draw(const Frame& f, std::string& out) const override {
    out += R"(<g class="contour" fill="none" stroke-width="1.2" stroke-linejoin="round">)";
    out += '\n';
    for (std::size_t i = 0; i < levels_.size(); ++i) {
      std::string d;
      for (const auto& chain : chains(levels_[i])) {
        std::string sub;
        for (const Point& p : chain) {
          const double px = f.px(p.x), py = f.py(p.y);
          if (!std::isfinite(px) || !std::isfinite(py)) continue;
          sub += sub.empty() ? 'M' : ' ';
          sub += num(px);
          sub += ',';
          sub += num(py);
        }
        d += sub;
      }
      if (d.empty()) continue;
      // Light to dark as the level rises.
      const double t = levels_.size() > 1 ? static_cast<double>(i) / static_cast<double>(levels_.size() - 1) : 1.0;
      out += fmt::format(R"(<path data-level="{:g}" stroke="{}" d="{}"/>)", levels_[i], ramp(t), d);
      out += '\n';
    }
    out += "</g>\n";
  }

 private:
  double z(std::size_t r, std::size_t c) const { return z_[r * nx_ + c]; }

  // Edge ids: the horizontal edge from sample (r, c) to (r, c+1) is
  // 2*(r*nx + c); the vertical edge from (r, c) to (r+1, c) is that plus 1.
  std::size_t h_edge(std::size_t r, std::size_t c) const { return 2 * (r * nx_ + c); }
  std::size_t v_edge(std::size_t r, std::size_t c) const { return 2 * (r * nx_ + c) + 1; }

  // Where the level crosses an edge, in data coordinates.
  Point crossing(std::size_t edge, double level) const {
    const std::size_t cell = edge / 2, r = cell / nx_, c = cell % nx_;
    const bool vertical = edge % 2 == 1;
    const double za = z(r, c), zb = vertical ? z(r + 1, c) : z(r, c + 1);
    const double t = (level - za) / (zb - za);
    const double dx = (x1_ - x0_) / static_cast<double>(nx_ - 1);
    const double dy = (y1_ - y0_) / static_cast<double>(ny_ - 1);
    const double x = x0_ + (static_cast<double>(c) + (vertical ? 0.0 : t)) * dx;
    const double y = y0_ + (static_cast<double>(r) + (vertical ? t : 0.0)) * dy;
    return {x, y};
  }

  // The level's iso-line as polylines of crossing points.
  std::vector<std::vector<Point>> chains(double level) const {
    std::vector<std::array<std::size_t, 2>> segments;
    for (std::size_t r = 0; r + 1 < ny_; ++r)
      for (std::size_t c = 0; c + 1 < nx_; ++c) cell_segments(r, c, level, segments);

    // Each crossing belongs to at most two segments (one per cell beside it).
    std::unordered_map<std::size_t, std::array<std::size_t, 2>> at;
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    for (std::size_t s = 0; s < segments.size(); ++s)
      for (std::size_t e : segments[s]) {
        auto [it, fresh] = at.try_emplace(e, std::array<std::size_t, 2>{none, none});
        it->second[it->second[0] == none ? 0 : 1] = s;
      }
    std::vector<bool> used(segments.size(), false);
    // From edge `from`, follow unused segments; returns the edges reached.
    const auto walk = [&](std::size_t from) {
      std::vector<std::size_t> edges;
      for (;;) {
        std::size_t next = none;
        for (std::size_t s : at[from])
          if (s != none && !used[s]) next = s;
        if (next == none) return edges;
        used[next] = true;
        from = segments[next][0] == from ? segments[next][1] : segments[next][0];
        edges.push_back(from);
      }
    };
    std::vector<std::vector<Point>> out;
    for (std::size_t s = 0; s < segments.size(); ++s) {
      if (used[s]) continue;
      used[s] = true;
      std::vector<std::size_t> back = walk(segments[s][0]);
      std::vector<std::size_t> edges(back.rbegin(), back.rend());
      edges.push_back(segments[s][0]);
      edges.push_back(segments[s][1]);
      for (std::size_t e : walk(segments[s][1])) edges.push_back(e);
      std::vector<Point> chain;
      for (std::size_t e : edges) chain.push_back(crossing(e, level));
      out.push_back(std::move(chain));
    }
    return out;
  }

  void cell_segments(std::size_t r, std::size_t c, double level,
                     std::vector<std::array<std::size_t, 2>>& segments) const {
    // Corners counter-clockwise from the bottom left; edge i joins corner i
    // and corner i+1: bottom, right, top, left.
    const std::array<double, 4> corner = {z(r, c), z(r, c + 1), z(r + 1, c + 1), z(r + 1, c)};
    for (double v : corner)
      if (!std::isfinite(v)) return;  // no line through undefined values
    const std::array<std::size_t, 4> edge = {h_edge(r, c), v_edge(r, c + 1), h_edge(r + 1, c),
                                             v_edge(r, c)};
    std::array<std::size_t, 4> crossed{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < 4; ++i)
      if ((corner[i] >= level) != (corner[(i + 1) % 4] >= level)) crossed[n++] = i;
    if (n == 2) segments.push_back({edge[crossed[0]], edge[crossed[1]]});
    if (n == 4) {
      // Saddle: cut off the corners on the other side from the cell's mean.
      // Corner 1 lies between edges 0 and 1.
      const double mean = (corner[0] + corner[1] + corner[2] + corner[3]) / 4;
      if ((corner[1] >= level) != (mean >= level)) {
        segments.push_back({edge[0], edge[1]});
        segments.push_back({edge[2], edge[3]});
      } else {
        segments.push_back({edge[1], edge[2]});
        segments.push_back({edge[3], edge[0]});
      }
    }
  }

  // Light blue to dark blue.
  static std::string ramp(double t) {
    const auto mix = [t](double a, double b) { return static_cast<int>(std::lround(a + t * (b - a))); };
    return fmt::format("#{:02x}{:02x}{:02x}", mix(158, 8), mix(202, 48), mix(225, 107));
  }

  std::vector<double> z_;
  std::size_t nx_, ny_;
  double x0_, x1_, y0_, y1_;
  std::vector<double> levels_;
};

}  // namespace

LayerPtr make_contour(std::vector<double> z, std::size_t nx, std::size_t ny, double x0, double x1,
                      double y0, double y1, std::vector<double> levels) {
  return std::make_shared<Contour>(std::move(z), nx, ny, x0, x1, y0, y1, std::move(levels));
}

}  // namespace slope::plot::detail
