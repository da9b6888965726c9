// Figure: the builder methods (which validate and copy the data into layers)
// and the frame around the layers: fitted ranges, ticks, labels, legend.
#include <algorithm>

#include <fmt/format.h>

#include "plot_internal.hpp"
#include "slope/error.hpp"
#include "slope/io.hpp"

namespace slope::plot {

namespace {

using detail::escape;
using detail::num;

std::vector<double> copy(std::span<const double> v) { return {v.begin(), v.end()}; }

void check_same_length(const char* op, std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size())
    throw ValueError(fmt::format("Figure::{}: x has {} values, y has {}", op, x.size(), y.size()));
}

void check_grid(const char* op, std::size_t values, std::size_t nx, std::size_t ny, double x0,
                double x1, double y0, double y1) {
  if (nx < 2 || ny < 2)
    throw ValueError(fmt::format("Figure::{}: the grid needs at least 2 x 2 samples, got nx {} ny {}",
                                 op, nx, ny));
  std::size_t cells = 0;  // nx * ny, which must not wrap around to match `values`
  if (__builtin_mul_overflow(nx, ny, &cells))
    throw ValueError(fmt::format("Figure::{}: an nx {} by ny {} grid has more cells than 64 bits can count", op,
                                 nx, ny));
  if (values != cells)
    throw ValueError(fmt::format("Figure::{}: {} values for an nx {} by ny {} grid (expected {})", op,
                                 values, nx, ny, cells));
  if (!(x0 < x1) || !(y0 < y1) || !std::isfinite(x1 - x0) || !std::isfinite(y1 - y0))
    throw ValueError(fmt::format("Figure::{}: expected x0 < x1 and y0 < y1, got x [{}, {}] y [{}, {}]",
                                 op, x0, x1, y0, y1));
}

void check_limits(const char* op, double lo, double hi) {
  if (!(lo < hi) || !std::isfinite(hi - lo))
    throw ValueError(fmt::format("Figure::{}: expected finite lo < hi, got [{}, {}]", op, lo, hi));
}

// The visible range of one axis in axis units (log10 on a log axis): the
// limits if set, else the data's range; y (pad) gets 4% air on each side,
// except below a range that starts at 0 (histograms stand on the axis) and
// around a grid (regions, contours), which fills the plot area.
std::pair<double, double> fit(const detail::Range& data, const double lim[2], bool log, bool pad,
                              char axis) {
  if (lim[0] < lim[1]) {
    if (log && lim[0] <= 0)
      throw ValueError(fmt::format("Figure: a log {} axis needs positive limits, got [{}, {}]", axis,
                                   lim[0], lim[1]));
    return {detail::axis_value(lim[0], log), detail::axis_value(lim[1], log)};
  }
  if (data.empty()) return {0.0, 1.0};
  double a = detail::axis_value(data.lo, log), b = detail::axis_value(data.hi, log);
  if (a == b) {  // one value: a unit (or a decade) around it
    const double d = log ? 0.5 : std::max(0.5, 0.1 * std::abs(a));
    return {a - d, b + d};
  }
  if (pad) {
    const double air = 0.04 * (b - a);
    if (log || data.lo != 0.0) a -= air;
    b += air;
  }
  return {a, b};
}

}  // namespace

Figure::Figure(std::string title, double width, double height)
    : title_(std::move(title)), width_(width), height_(height) {
  if (!(width >= 120 && height >= 100) || !std::isfinite(width) || !std::isfinite(height))
    throw ValueError(fmt::format("Figure: size must be at least 120 x 100 pixels, got {} x {}", width,
                                 height));
}

Figure& Figure::xlabel(std::string text) { xlabel_ = std::move(text); return *this; }
Figure& Figure::ylabel(std::string text) { ylabel_ = std::move(text); return *this; }
Figure& Figure::log_x(bool on) { log_x_ = on; return *this; }
Figure& Figure::log_y(bool on) { log_y_ = on; return *this; }

Figure& Figure::xlim(double lo, double hi) {
  check_limits("xlim", lo, hi);
  xlim_[0] = lo, xlim_[1] = hi;
  return *this;
}

Figure& Figure::ylim(double lo, double hi) {
  check_limits("ylim", lo, hi);
  ylim_[0] = lo, ylim_[1] = hi;
  return *this;
}

namespace {

// An empty colour takes the figure's next palette colour.
Style coloured(Style style, std::size_t& next) {
  if (style.color.empty()) style.color = palette(next++);
  return style;
}

}  // namespace

Figure& Figure::line(std::span<const double> x, std::span<const double> y, std::string label,
                     Style style) {
  check_same_length("line", x, y);
  layers_.push_back(detail::make_line(copy(x), copy(y), std::move(label), coloured(std::move(style), next_color_)));
  return *this;
}

Figure& Figure::line(std::span<const double> y, std::string label, Style style) {
  std::vector<double> x(y.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  return line(x, y, std::move(label), std::move(style));
}

Figure& Figure::scatter(std::span<const double> x, std::span<const double> y, std::string label,
                        Style style) {
  check_same_length("scatter", x, y);
  layers_.push_back(detail::make_scatter(copy(x), copy(y), std::move(label), coloured(std::move(style), next_color_)));
  return *this;
}

Figure& Figure::contour(std::span<const double> z, std::size_t nx, std::size_t ny, double x0, double x1,
                        double y0, double y1, std::vector<double> levels) {
  check_grid("contour", z.size(), nx, ny, x0, x1, y0, y1);
  for (double l : levels)
    if (!std::isfinite(l)) throw ValueError(fmt::format("Figure::contour: level {} is not finite", l));
  if (levels.empty()) {
    detail::Range r;
    for (double v : z) r.add(v, false);
    if (r.empty()) throw ValueError("Figure::contour: z has no finite value");
    for (int i = 1; i <= 12; ++i) levels.push_back(r.lo + (r.hi - r.lo) * i / 13.0);
  }
  std::sort(levels.begin(), levels.end());
  layers_.push_back(detail::make_contour(copy(z), nx, ny, x0, x1, y0, y1, std::move(levels)));
  return *this;
}

Figure& Figure::regions(std::span<const int> classes, std::size_t nx, std::size_t ny, double x0,
                        double x1, double y0, double y1, double opacity) {
  check_grid("regions", classes.size(), nx, ny, x0, x1, y0, y1);
  if (!(opacity >= 0 && opacity <= 1))
    throw ValueError(fmt::format("Figure::regions: opacity must lie in [0, 1], got {}", opacity));
  layers_.push_back(detail::make_regions({classes.begin(), classes.end()}, nx, ny, x0, x1, y0, y1, opacity));
  return *this;
}

Figure& Figure::histogram(std::span<const double> values, std::size_t bins, std::string label,
                          Style style, double lo, double hi) {
  if (bins == 0) throw ValueError("Figure::histogram: bins must be at least 1");
  if (!(lo < hi)) {  // the finite values' own range
    detail::Range r;
    for (double v : values) r.add(v, false);
    lo = r.empty() ? 0.0 : r.lo;
    hi = r.empty() ? 1.0 : r.hi;
    if (lo == hi) lo -= 0.5, hi += 0.5;
  }
  check_limits("histogram", lo, hi);
  // Bin i holds [lo + i*w, lo + (i+1)*w); the last one also holds hi.
  std::vector<std::size_t> counts(bins, 0);
  const double scale = static_cast<double>(bins) / (hi - lo);
  for (double v : values) {
    if (!(v >= lo && v <= hi)) continue;  // outside, or NaN
    const auto i = static_cast<std::size_t>((v - lo) * scale);
    ++counts[std::min(i, bins - 1)];
  }
  layers_.push_back(detail::make_histogram(std::move(counts), lo, hi, std::move(label),
                                           coloured(std::move(style), next_color_)));
  return *this;
}

Figure& Figure::hline(double y, std::string label, Style style) {
  layers_.push_back(detail::make_rule(true, y, std::move(label), coloured(std::move(style), next_color_)));
  return *this;
}

Figure& Figure::vline(double x, std::string label, Style style) {
  layers_.push_back(detail::make_rule(false, x, std::move(label), coloured(std::move(style), next_color_)));
  return *this;
}

Figure& Figure::text(double x, double y, std::string text) {
  layers_.push_back(detail::make_text(x, y, std::move(text)));
  return *this;
}

std::string Figure::svg() const {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  render(out, "plot-area", 0, 0, true);
  return out;
}

void Figure::save(const std::filesystem::path& path) const {
  const std::string text = svg();
  io::write_file_atomic(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

void Figure::render(std::string& out, const std::string& id, double x, double y, bool root) const {
  detail::Range xr, yr;
  for (const auto& layer : layers_) layer->extent(xr, yr, log_x_, log_y_);
  detail::Frame f;
  f.log_x = log_x_, f.log_y = log_y_;
  std::tie(f.x0, f.x1) = fit(xr, xlim_, log_x_, false, 'x');
  const bool fills = std::any_of(layers_.begin(), layers_.end(), [](const auto& l) { return l->fills_grid(); });
  std::tie(f.y0, f.y1) = fit(yr, ylim_, log_y_, !fills, 'y');
  const auto data_units = [](double v, bool log) { return log ? std::pow(10.0, v) : v; };

  // Vertical layout first: the y ticks decide how wide the left margin is.
  f.top = title_.empty() ? 14 : 36;
  f.height = height_ - f.top - (xlabel_.empty() ? 30 : 50);
  const auto yticks = detail::ticks(data_units(f.y0, log_y_), data_units(f.y1, log_y_), log_y_,
                                    std::clamp(static_cast<int>(f.height / 60), 3, 7));
  const auto ylabels = detail::tick_labels(yticks, log_y_);
  double widest = 0;
  for (const auto& s : ylabels) widest = std::max(widest, detail::text_width(s, 11));
  f.left = widest + 14 + (ylabel_.empty() ? 0 : 20);
  f.width = width_ - f.left - 22;
  const auto xticks = detail::ticks(data_units(f.x0, log_x_), data_units(f.x1, log_x_), log_x_,
                                    std::clamp(static_cast<int>(f.width / 90), 3, 10));
  const auto xlabels = detail::tick_labels(xticks, log_x_);

  out += root ? R"(<svg xmlns="http://www.w3.org/2000/svg")" : fmt::format(R"(<svg x="{:g}" y="{:g}")", x, y);
  out += fmt::format(R"( width="{0:g}" height="{1:g}" viewBox="0 0 {0:g} {1:g}" font-family="sans-serif" font-size="12">)",
                     width_, height_);
  out += fmt::format("\n<rect width=\"{:g}\" height=\"{:g}\" fill=\"white\"/>\n", width_, height_);
  const std::string area = fmt::format(R"(x="{}" y="{}" width="{}" height="{}")", num(f.left),
                                       num(f.top), num(f.width), num(f.height));
  out += fmt::format("<defs><clipPath id=\"{}\"><rect {}/></clipPath></defs>\n", escape(id), area);

  // Grid lines and ticks at the same positions.
  std::string grid, marks, labels;
  for (std::size_t i = 0; i < xticks.size(); ++i) {
    const std::string p = num(f.px(xticks[i]));
    grid += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>)", p, num(f.top), num(f.bottom()));
    marks += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>)", p, num(f.bottom()), num(f.bottom() + 4));
    labels += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", p,
                          num(f.bottom() + 17), escape(xlabels[i]));
  }
  for (std::size_t i = 0; i < yticks.size(); ++i) {
    const std::string p = num(f.py(yticks[i]));
    grid += fmt::format(R"(<line x1="{1}" y1="{0}" x2="{2}" y2="{0}"/>)", p, num(f.left), num(f.right()));
    marks += fmt::format(R"(<line x1="{1}" y1="{0}" x2="{2}" y2="{0}"/>)", p, num(f.left - 4), num(f.left));
    labels += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", num(f.left - 7),
                          num(f.py(yticks[i]) + 4), escape(ylabels[i]));
  }
  out += fmt::format("<g class=\"grid\" stroke=\"#e8e8e8\">{}</g>\n", grid);
  out += fmt::format("<g class=\"layers\" clip-path=\"url(#{})\">\n", escape(id));
  for (const auto& layer : layers_) layer->draw(f, out);
  out += "</g>\n";
  out += fmt::format("<rect class=\"frame\" {} fill=\"none\" stroke=\"#333\"/>\n", area);
  out += fmt::format("<g class=\"ticks\" stroke=\"#333\">{}</g>\n", marks);
  out += fmt::format("<g class=\"tick-labels\" fill=\"#333\" font-size=\"11\">{}</g>\n", labels);

  if (!title_.empty())
    out += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                       num(f.left + f.width / 2), escape(title_));
  if (!xlabel_.empty())
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       num(f.left + f.width / 2), num(height_ - 10), escape(xlabel_));
  if (!ylabel_.empty())
    out += fmt::format("<text transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                       num(f.top + f.height / 2), escape(ylabel_));

  // The legend: top right inside the plot area, one row per labelled layer.
  std::vector<const Layer*> keyed;
  double longest = 0;
  for (const auto& layer : layers_)
    if (!layer->label.empty()) {
      keyed.push_back(layer.get());
      longest = std::max(longest, detail::text_width(layer->label, 11));
    }
  if (!keyed.empty()) {
    const double w = longest + 40, h = 18.0 * static_cast<double>(keyed.size()) + 6;
    const double lx = f.right() - w - 8, ly = f.top + 8;
    out += fmt::format(R"(<g class="legend" font-size="11"><rect x="{}" y="{}" width="{}" height="{}" fill="white" fill-opacity="0.85" stroke="#999"/>)",
                       num(lx), num(ly), num(w), num(h));
    for (std::size_t i = 0; i < keyed.size(); ++i) {
      const double row = ly + 12 + 18.0 * static_cast<double>(i);
      keyed[i]->swatch(lx + 8, row, out);
      out += fmt::format(R"(<text x="{}" y="{}">{}</text>)", num(lx + 34), num(row + 4),
                         escape(keyed[i]->label));
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
}

std::string svg_grid(std::span<const Figure> figures, std::size_t columns) {
  if (figures.empty()) throw ValueError("svg_grid: no figures");
  if (columns == 0) throw ValueError("svg_grid: columns must be at least 1");
  columns = std::min(columns, figures.size());
  const std::size_t rows = (figures.size() + columns - 1) / columns;
  double cell_w = 0, cell_h = 0;  // every cell as large as the largest figure
  for (const auto& fig : figures) cell_w = std::max(cell_w, fig.width_), cell_h = std::max(cell_h, fig.height_);
  const double w = cell_w * static_cast<double>(columns), h = cell_h * static_cast<double>(rows);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:g}" height="{1:g}" viewBox="0 0 {0:g} {1:g}">)", w, h);
  out += fmt::format("\n<rect width=\"{:g}\" height=\"{:g}\" fill=\"white\"/>\n", w, h);
  for (std::size_t i = 0; i < figures.size(); ++i)
    figures[i].render(out, fmt::format("plot-area-{}", i), cell_w * static_cast<double>(i % columns),
                      cell_h * static_cast<double>(i / columns), false);
  out += "</svg>\n";
  return out;
}

void save_grid(const std::filesystem::path& path, std::span<const Figure> figures, std::size_t columns) {
  const std::string text = svg_grid(figures, columns);
  io::write_file_atomic(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace slope::plot
