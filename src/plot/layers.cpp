// The layers a figure draws: lines, dots, reference lines, text, histogram
// bars and filled class regions. Contours are in contour.cpp.
#include <map>

#include <fmt/format.h>

#include "plot_internal.hpp"

namespace slope::plot::detail {

namespace {

std::string dot(double x, double y, double r) {
  return fmt::format(R"(<circle cx="{}" cy="{}" r="{:g}"/>)", num(x), num(y), r);
}

// A series through (x[i], y[i]): one <polyline> per run of points the axes
// can show, so a NaN (or a value <= 0 on a log axis) breaks the line.
class Line final : public Figure::Layer {
 public:
  Line(std::vector<double> x, std::vector<double> y) : x_(std::move(x)), y_(std::move(y)) {}

  void extent(Range& xr, Range& yr, bool log_x, bool log_y) const override {
    for (std::size_t i = 0; i < x_.size(); ++i)
      if (!std::isnan(axis_value(x_[i], log_x)) && !std::isnan(axis_value(y_[i], log_y))) {
        xr.add(x_[i], log_x);
        yr.add(y_[i], log_y);
      }
  }

  void draw(const Frame& f, std::string& out) const override {
    std::string points, dots;
    const auto flush = [&] {
      if (points.empty()) return;
      points.pop_back();  // the trailing space
      out += fmt::format(R"(<polyline fill="none" {} stroke-linejoin="round" points="{}"/>)",
                         stroke_attrs(style), points);
      out += '\n';
      points.clear();
    };
    for (std::size_t i = 0; i < x_.size(); ++i) {
      const double px = f.px(x_[i]), py = f.py(y_[i]);
      if (!std::isfinite(px) || !std::isfinite(py)) {
        flush();
        continue;
      }
      points += num(px) + "," + num(py) + " ";
      if (style.markers) dots += dot(px, py, style.marker_size);
    }
    flush();
    if (!dots.empty())
      out += fmt::format("<g fill=\"{}\">{}</g>\n", escape(style.color), dots);
  }

  void swatch(double x, double y, std::string& out) const override {
    Layer::swatch(x, y, out);
    if (style.markers)
      out += fmt::format(R"(<circle cx="{}" cy="{}" r="{:g}" fill="{}"/>)", num(x + 10), num(y),
                         style.marker_size, escape(style.color));
  }

 private:
  std::vector<double> x_, y_;
};

// Dots at (x[i], y[i]), skipping points the axes cannot show.
class Scatter final : public Figure::Layer {
 public:
  Scatter(std::vector<double> x, std::vector<double> y) : x_(std::move(x)), y_(std::move(y)) {}

  void extent(Range& xr, Range& yr, bool log_x, bool log_y) const override {
    for (std::size_t i = 0; i < x_.size(); ++i)
      if (!std::isnan(axis_value(x_[i], log_x)) && !std::isnan(axis_value(y_[i], log_y))) {
        xr.add(x_[i], log_x);
        yr.add(y_[i], log_y);
      }
  }

  void draw(const Frame& f, std::string& out) const override {
    out += fmt::format(R"(<g class="scatter" fill="{}")", escape(style.color));
    if (style.opacity != 1.0) out += fmt::format(R"( fill-opacity="{:g}")", style.opacity);
    out += ">";
    for (std::size_t i = 0; i < x_.size(); ++i) {
      const double px = f.px(x_[i]), py = f.py(y_[i]);
      if (std::isfinite(px) && std::isfinite(py)) out += dot(px, py, style.marker_size);
    }
    out += "</g>\n";
  }

  void swatch(double x, double y, std::string& out) const override {
    out += fmt::format(R"(<circle cx="{}" cy="{}" r="{:g}" fill="{}"/>)", num(x + 10), num(y),
                       style.marker_size, escape(style.color));
  }

 private:
  std::vector<double> x_, y_;
};

// A line across the whole plot area at y = at (horizontal) or x = at.
class Rule final : public Figure::Layer {
 public:
  Rule(bool horizontal, double at) : horizontal_(horizontal), at_(at) {}

  void extent(Range& xr, Range& yr, bool log_x, bool log_y) const override {
    if (horizontal_) yr.add(at_, log_y);
    else xr.add(at_, log_x);
  }

  void draw(const Frame& f, std::string& out) const override {
    const double p = horizontal_ ? f.py(at_) : f.px(at_);
    if (!std::isfinite(p)) return;
    if (horizontal_)
      out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>)", num(f.left), num(p),
                         num(f.right()), num(p), stroke_attrs(style));
    else
      out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>)", num(p), num(f.top),
                         num(p), num(f.bottom()), stroke_attrs(style));
    out += '\n';
  }

 private:
  bool horizontal_;
  double at_;
};

// A note at data coordinates; it does not widen the axis ranges.
class Text final : public Figure::Layer {
 public:
  Text(double x, double y, std::string text) : x_(x), y_(y), text_(std::move(text)) {}
  void extent(Range&, Range&, bool, bool) const override {}
  void draw(const Frame& f, std::string& out) const override {
    const double px = f.px(x_), py = f.py(y_);
    if (std::isfinite(px) && std::isfinite(py))
      out += fmt::format(R"(<text x="{}" y="{}" font-size="11">{}</text>)", num(px), num(py),
                         escape(text_)) + "\n";
  }

 private:
  double x_, y_;
  std::string text_;
};

// Translucent bars: bin i covers [lo + i*w, lo + (i+1)*w) with height counts[i].
class Histogram final : public Figure::Layer {
 public:
  Histogram(std::vector<std::size_t> counts, double lo, double hi)
      : counts_(std::move(counts)), lo_(lo), hi_(hi) {}

  void extent(Range& xr, Range& yr, bool log_x, bool log_y) const override {
    xr.add(lo_, log_x);
    xr.add(hi_, log_x);
    yr.add(0.0, log_y);  // bars stand on zero (which a log axis cannot show)
    for (std::size_t c : counts_)
      if (c > 0) yr.add(static_cast<double>(c), log_y);
  }

  void draw(const Frame& f, std::string& out) const override {
    out += fmt::format(R"(<g class="histogram" fill="{0}" fill-opacity="{1:g}" stroke="{0}" stroke-width="0.8">)",
                       escape(style.color), 0.45 * style.opacity);
    const double width = (hi_ - lo_) / static_cast<double>(counts_.size());
    // On a log axis a bar stands on the bottom edge of the plot area.
    const double base = f.log_y ? f.bottom() : f.py(0.0);
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      const double a = f.px(lo_ + static_cast<double>(i) * width);
      const double b = f.px(lo_ + static_cast<double>(i + 1) * width);
      const double top = f.py(static_cast<double>(counts_[i]));
      if (!std::isfinite(a) || !std::isfinite(b) || !std::isfinite(top)) continue;
      out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}"/>)", num(std::min(a, b)),
                         num(top), num(std::abs(b - a)), num(std::max(0.0, base - top)));
    }
    out += "</g>\n";
  }

  void swatch(double x, double y, std::string& out) const override {
    out += fmt::format(R"(<rect x="{}" y="{}" width="20" height="10" fill="{}" fill-opacity="{:g}"/>)",
                       num(x), num(y - 5), escape(style.color), 0.45 * style.opacity);
  }

 private:
  std::vector<std::size_t> counts_;
  double lo_, hi_;
};

// Class k >= 0 of sample (r, c) fills the cell around it in palette colour k;
// a run of equal classes along a row becomes one rectangle.
class Regions final : public Figure::Layer {
 public:
  Regions(std::vector<int> classes, std::size_t nx, std::size_t ny, double x0, double x1, double y0,
          double y1, double opacity)
      : classes_(std::move(classes)), nx_(nx), ny_(ny), x0_(x0), x1_(x1), y0_(y0), y1_(y1),
        opacity_(opacity) {}

  bool fills_grid() const override { return true; }

  void extent(Range& xr, Range& yr, bool log_x, bool log_y) const override {
    xr.add(x0_, log_x);
    xr.add(x1_, log_x);
    yr.add(y0_, log_y);
    yr.add(y1_, log_y);
  }

  void draw(const Frame& f, std::string& out) const override {
    const double dx = (x1_ - x0_) / static_cast<double>(nx_ - 1);
    const double dy = (y1_ - y0_) / static_cast<double>(ny_ - 1);
    // Edges rounded to the printed precision first, so neighbouring cells
    // share exactly the same edge and no seam or overlap shows.
    const auto round1 = [](double v) { return std::round(v * 10) / 10; };
    std::map<int, std::string> rects;  // class -> its rectangles
    for (std::size_t r = 0; r < ny_; ++r) {
      const double ya = round1(f.py(y0_ + (static_cast<double>(r) - 0.5) * dy));
      const double yb = round1(f.py(y0_ + (static_cast<double>(r) + 0.5) * dy));
      for (std::size_t c = 0; c < nx_;) {
        const int k = classes_[r * nx_ + c];
        std::size_t end = c + 1;
        while (end < nx_ && classes_[r * nx_ + end] == k) ++end;
        const double xa = round1(f.px(x0_ + (static_cast<double>(c) - 0.5) * dx));
        const double xb = round1(f.px(x0_ + (static_cast<double>(end) - 0.5) * dx));
        if (k >= 0 && std::isfinite(xa + xb + ya + yb))
          rects[k] += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}"/>)",
                                  num(std::min(xa, xb)), num(std::min(ya, yb)),
                                  num(std::abs(xb - xa)), num(std::abs(yb - ya)));
        c = end;
      }
    }
    out += fmt::format(R"(<g class="regions" fill-opacity="{:g}" shape-rendering="crispEdges">)",
                       opacity_);
    for (const auto& [k, text] : rects)
      out += fmt::format("<g fill=\"{}\">{}</g>", palette(static_cast<std::size_t>(k)), text);
    out += "</g>\n";
  }

 private:
  std::vector<int> classes_;
  std::size_t nx_, ny_;
  double x0_, x1_, y0_, y1_, opacity_;
};

template <class L, class... A>
LayerPtr labelled(std::string label, Style style, A&&... args) {
  auto layer = std::make_shared<L>(std::forward<A>(args)...);
  layer->label = std::move(label);
  layer->style = std::move(style);
  return layer;
}

}  // namespace

LayerPtr make_line(std::vector<double> x, std::vector<double> y, std::string label, Style style) {
  return labelled<Line>(std::move(label), std::move(style), std::move(x), std::move(y));
}

LayerPtr make_scatter(std::vector<double> x, std::vector<double> y, std::string label, Style style) {
  return labelled<Scatter>(std::move(label), std::move(style), std::move(x), std::move(y));
}

LayerPtr make_rule(bool horizontal, double at, std::string label, Style style) {
  return labelled<Rule>(std::move(label), std::move(style), horizontal, at);
}

LayerPtr make_text(double x, double y, std::string text) {
  return labelled<Text>("", Style{}, x, y, std::move(text));
}

LayerPtr make_histogram(std::vector<std::size_t> counts, double lo, double hi, std::string label,
                        Style style) {
  return labelled<Histogram>(std::move(label), std::move(style), std::move(counts), lo, hi);
}

LayerPtr make_regions(std::vector<int> classes, std::size_t nx, std::size_t ny, double x0,
                      double x1, double y0, double y1, double opacity) {
  return labelled<Regions>("", Style{}, std::move(classes), nx, ny, x0, x1, y0, y1, opacity);
}

}  // namespace slope::plot::detail
