// Figures and images of slope/plot.hpp. The SVG is read back with the small
// XML parser of svg_reader.hpp, which also checks well-formedness, so every
// check below looks at what a browser would parse.
#include <zlib.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <sstream>

#include "slope/plot.hpp"
#include "svg_reader.hpp"
#include "test_support.hpp"

using namespace slope;
using namespace slope::testing;
using namespace slope::testing::svg;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

const std::vector<double> kX = {2, 3, 5, 7};
const std::vector<double> kY = {1, 4, 2, 8};

}  // namespace

// ---- SVG ---------------------------------------------------------------------------

TEST_CASE("The test's XML reader accepts well-formed documents and rejects malformed ones") {
  std::string error;
  parse_xml(R"(<?xml version="1.0"?><a x="1" y='&amp;'><b/>t &lt; u<c></c></a>)", error);
  CHECK(error == "");
  const char* bad = GENERATE("<a><b></a></b>", "<a x=1/>", "<a>&</a>", "<a/><b/>", "<a x=\"<\"/>",
                             "<a>", "<a x=\"1\" x=\"2\"/>", "<a>&nbsp;</a>", "text<a/>");
  parse_xml(bad, error);
  INFO(bad);
  CHECK(error != "");
}

TEST_CASE("A figure's SVG is a well-formed standalone document with a white background") {
  plot::Figure fig("loss", 500, 300);
  fig.xlabel("epoch").ylabel("loss").line(kX, kY, "train").scatter(kX, kY, "points");
  fig.histogram(kY, 4, "hist").hline(3, "ref").vline(4).text(3, 3, "note");
  const std::string svg = fig.svg();
  const auto all = parse_ok(svg);
  REQUIRE(all[0].name == "svg");
  CHECK(all[0].attrs.at("xmlns") == "http://www.w3.org/2000/svg");
  CHECK(all[0].attrs.at("width") == "500");
  CHECK(all[0].attrs.at("height") == "300");
  CHECK(all[0].attrs.at("viewBox") == "0 0 500 300");
  CHECK(all[1].name == "rect");
  CHECK(all[1].attrs.at("fill") == "white");
  // The layers are clipped to the plot area.
  const auto clip = named(all, "clipPath");
  REQUIRE(clip.size() == 1);
  bool clipped = false;
  for (const auto& g : named(all, "g"))
    if (g.attrs.count("clip-path")) clipped = g.attrs.at("clip-path") == "url(#" + clip[0].attrs.at("id") + ")";
  CHECK(clipped);
  CHECK_THAT(svg, Contains(">loss</text>") && Contains(">epoch</text>") && Contains(">note</text>"));
  // The legend lists the labelled layers in order.
  CHECK(texts_in(all, "legend") == std::vector<std::string>{"train", "points", "hist", "ref"});
}

TEST_CASE("Each line series is one polyline, and a non-finite point breaks it in two") {
  plot::Figure fig;
  fig.line(kX, kY).line(kX, std::vector<double>{3, 2, 1, 0}).line(kY);
  CHECK(named(parse_ok(fig.svg()), "polyline").size() == 3);
  const double nan = std::nan("");
  fig.line(kX, std::vector<double>{1, nan, 3, 4});
  const auto lines = named(parse_ok(fig.svg()), "polyline");
  REQUIRE(lines.size() == 5);
  CHECK(point_lists(lines[3].attrs.at("points"))[0].size() == 1);
  CHECK(point_lists(lines[4].attrs.at("points"))[0].size() == 2);
  // Series without a colour take successive palette colours.
  CHECK(lines[0].attrs.at("stroke") == plot::palette(0));
  CHECK(lines[1].attrs.at("stroke") == plot::palette(1));
}

TEST_CASE("The ends of the data's x range land on the plot area's edges") {
  plot::Figure fig;
  fig.line(kX, kY).ylim(0, 10);
  const auto all = parse_ok(fig.svg());
  const Area a = plot_area(all);
  const auto pts = point_lists(named(all, "polyline").at(0).attrs.at("points")).at(0);
  REQUIRE(pts.size() == 4);
  CHECK_THAT(pts[0].x, WithinAbs(a.x, 0.06));
  CHECK_THAT(pts[3].x, WithinAbs(a.x + a.w, 0.06));
  CHECK_THAT(pts[1].x, WithinAbs(a.x + a.w * (3 - 2) / 5.0, 0.06));
  // y grows upwards: y = 8 of [0, 10] sits 80% of the way up.
  CHECK_THAT(pts[3].y, WithinAbs(a.y + a.h * 0.2, 0.06));
  // Ticks at 0, 2, ..., 10 (steps of 1, 2 or 5 times a power of ten).
  CHECK(texts_in(all, "tick-labels", "end") == std::vector<std::string>{"0", "2", "4", "6", "8", "10"});
}

TEST_CASE("Tick labels are short: decimals as the step needs, exponents for tiny steps") {
  plot::Figure fig;
  fig.line(kX, kY).xlim(0, 1).ylim(0, 5e-5);
  const auto all = parse_ok(fig.svg());
  const auto xs = texts_in(all, "tick-labels", "middle");
  REQUIRE(xs.size() >= 3);
  CHECK(xs.front() == "0.0");
  CHECK(xs.back() == "1.0");
  const auto ys = texts_in(all, "tick-labels", "end");
  CHECK(ys.front() == "0");
  CHECK(ys.back() == "5e-5");
}

TEST_CASE("A log axis spaces decades equally, ticks at powers of ten, and skips values <= 0") {
  plot::Figure fig;
  fig.line(std::vector<double>{0, 1, 2, 3}, std::vector<double>{1, 10, 100, 1000}).log_y();
  fig.ylim(1, 1000);
  auto all = parse_ok(fig.svg());
  const Area a = plot_area(all);
  const auto pts = point_lists(named(all, "polyline").at(0).attrs.at("points")).at(0);
  REQUIRE(pts.size() == 4);
  CHECK_THAT(pts[0].y, WithinAbs(a.y + a.h, 0.06));
  CHECK_THAT(pts[1].y, WithinAbs(a.y + a.h * 2 / 3, 0.06));
  CHECK_THAT(pts[2].y, WithinAbs(a.y + a.h / 3, 0.06));
  CHECK(texts_in(all, "tick-labels", "end") == std::vector<std::string>{"1", "10", "100", "1000"});

  plot::Figure fitted;  // a value of 0 is not drawn, breaks the line and does not widen the range
  fitted.line(std::vector<double>{0, 1, 2, 3}, std::vector<double>{0.01, 0, 0.1, 1}).log_y();
  all = parse_ok(fitted.svg());
  CHECK(named(all, "polyline").size() == 2);
  CHECK(texts_in(all, "tick-labels", "end") == std::vector<std::string>{"0.01", "0.1", "1"});
  CHECK_THROWS_AS(plot::Figure().log_x().xlim(-1, 1).svg(), ValueError);
}

TEST_CASE("Labels with <, & and > are escaped and read back unchanged") {
  const std::string nasty = "a < b & c > \"d\" 'e'";
  plot::Figure fig(nasty);
  fig.xlabel(nasty).line(kX, kY, nasty).text(3, 3, nasty);
  const std::string svg = fig.svg();
  CHECK(svg.find("a < b") == std::string::npos);
  CHECK_THAT(svg, Contains("a &lt; b &amp; c &gt;"));
  const auto all = parse_ok(svg);
  std::size_t found = 0;
  for (const auto& t : named(all, "text")) found += t.text == nasty;
  CHECK(found == 4);  // title, x label, legend, note
}

TEST_CASE("The contour of x^2 + y^2 at level r^2 lies on the circle of radius r") {
  const std::size_t n = 41;  // samples over [-2, 2]: cells of 0.1
  std::vector<double> z(n * n);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c) {
      const double x = -2 + 0.1 * double(c), y = -2 + 0.1 * double(r);
      z[r * n + c] = x * x + y * y;
    }
  const double radius = GENERATE(0.55, 1.0, 1.7);
  plot::Figure fig;
  fig.contour(z, n, n, -2, 2, -2, 2, {radius * radius}).ylim(-2, 2);
  const auto all = parse_ok(fig.svg());
  const Area a = plot_area(all);
  const auto paths = named(all, "path");
  REQUIRE(paths.size() == 1);
  const auto loops = point_lists(paths[0].attrs.at("d"));
  REQUIRE(loops.size() == 1);  // one closed polyline
  const auto& loop = loops[0];
  REQUIRE(loop.size() > 12);
  CHECK_THAT(loop.front().x, WithinAbs(loop.back().x, 1e-9));
  CHECK_THAT(loop.front().y, WithinAbs(loop.back().y, 1e-9));
  for (const Pt& p : loop) {
    const double x = -2 + 4 * (p.x - a.x) / a.w, y = 2 - 4 * (p.y - a.y) / a.h;
    CHECK_THAT(std::hypot(x, y), WithinAbs(radius, 0.1));  // within a grid cell
  }
}

TEST_CASE("A contour through a saddle keeps the two branches of x*y = 0.1 apart") {
  // 4 x 4 samples over [-1.5, 1.5]: the centre cell has corners +-0.25, mean 0.
  std::vector<double> z;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) z.push_back((-1.5 + c) * (-1.5 + r));
  plot::Figure fig;
  fig.contour(z, 4, 4, -1.5, 1.5, -1.5, 1.5, {0.1});
  const auto all = parse_ok(fig.svg());
  const Area a = plot_area(all);
  const auto branches = point_lists(named(all, "path").at(0).attrs.at("d"));
  REQUIRE(branches.size() == 2);
  for (const auto& branch : branches) {
    int left = 0;
    for (const Pt& p : branch) left += p.x < a.x + a.w / 2;
    CHECK((left == 0 || left == int(branch.size())));  // each branch in one half
  }
}

TEST_CASE("Contours without levels draw up to 12 levels, light to dark, and check their grid") {
  std::vector<double> z(5 * 4);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = double(i % 5) + 0.3 * double(i / 5);
  plot::Figure fig;
  fig.contour(z, 5, 4, 0, 1, 0, 1);
  const auto paths = named(parse_ok(fig.svg()), "path");
  CHECK(paths.size() >= 8);
  CHECK(paths.size() <= 12);
  CHECK(std::stod(paths.front().attrs.at("data-level")) < std::stod(paths.back().attrs.at("data-level")));
  CHECK(paths.front().attrs.at("stroke") != paths.back().attrs.at("stroke"));
  CHECK_THROWS_WITH(fig.contour(z, 4, 4, 0, 1, 0, 1), Contains("20 values") && Contains("16"));
  CHECK_THROWS_AS(fig.contour(z, 5, 4, 1, 0, 0, 1), ValueError);
}

TEST_CASE("Regions merge runs of equal class along a row into one rectangle") {
  const std::vector<int> classes = {0, 0, 0, 1, 1, 1,    //
                                    2, 2, 2, 2, 2, 2,    //
                                    0, 1, 0, 1, 0, 1,    //
                                    -1, -1, 0, 0, -1, -1};
  plot::Figure fig;
  fig.regions(classes, 6, 4, 0, 5, 0, 3);
  const auto all = parse_ok(fig.svg());
  std::vector<Element> rects;
  for (const auto& e : all)
    if (e.name == "rect" && e.parent >= 0 && all[static_cast<std::size_t>(e.parent)].attrs.count("fill") &&
        all[static_cast<std::size_t>(e.parent)].parent >= 0 &&
        all[static_cast<std::size_t>(all[static_cast<std::size_t>(e.parent)].parent)].attrs.count("class") &&
        all[static_cast<std::size_t>(all[static_cast<std::size_t>(e.parent)].parent)].attrs.at("class") == "regions")
      rects.push_back(e);
  CHECK(rects.size() == 2 + 1 + 6 + 1);
  // The full row of class 2 spans six cells: the plot area plus half a cell each side.
  const Area a = plot_area(all);
  double widest = 0;
  for (const auto& r : rects) widest = std::max(widest, std::stod(r.attrs.at("width")));
  CHECK_THAT(widest, WithinAbs(a.w * 6 / 5, 0.2));
  CHECK_THROWS_AS(fig.regions(classes, 6, 3, 0, 5, 0, 3), ValueError);
}

TEST_CASE("Histogram bars are translucent and as high as the counts of their bins") {
  const std::vector<double> values = {0.1, 0.2, 0.3, 1.5, 2.5, 2.6, 2.7, 3.0, std::nan("")};
  plot::Figure fig;
  fig.histogram(values, 3, "h", {}, 0, 3).ylim(0, 8);
  const auto all = parse_ok(fig.svg());
  const Area a = plot_area(all);
  std::vector<double> heights;
  for (const auto& e : all)
    if (e.name == "rect" && e.parent >= 0 && all[static_cast<std::size_t>(e.parent)].attrs.count("class") &&
        all[static_cast<std::size_t>(e.parent)].attrs.at("class") == "histogram") {
      heights.push_back(std::stod(e.attrs.at("height")) / a.h * 8);
      CHECK_THAT(std::stod(e.attrs.at("width")), WithinAbs(a.w / 3, 0.2));
    }
  REQUIRE(heights.size() == 3);
  CHECK_THAT(heights[0], WithinAbs(3, 0.01));  // [0, 1)
  CHECK_THAT(heights[1], WithinAbs(1, 0.01));  // [1, 2)
  CHECK_THAT(heights[2], WithinAbs(4, 0.01));  // [2, 3], 3.0 included
  for (const auto& g : named(all, "g"))
    if (g.attrs.count("class") && g.attrs.at("class") == "histogram")
      CHECK(std::stod(g.attrs.at("fill-opacity")) < 1);
}

TEST_CASE("Mismatched lengths are a ValueError naming both lengths") {
  plot::Figure fig;
  const std::vector<double> three = {1, 2, 3}, four = {1, 2, 3, 4};
  CHECK_THROWS_MATCHES(fig.line(three, four), ValueError, what(Contains("3") && Contains("4")));
  CHECK_THROWS_MATCHES(fig.scatter(four, three), ValueError, what(Contains("x has 4") && Contains("y has 3")));
  CHECK_THROWS_AS(fig.xlim(2, 1), ValueError);
  CHECK_THROWS_AS(fig.histogram(three, 0), ValueError);
  CHECK_THROWS_AS(plot::Figure("tiny", 10, 10), ValueError);
}

TEST_CASE("save writes the SVG atomically and an unwritable path is an IoError naming it") {
  TempDir dir("plot");
  plot::Figure fig("t");
  fig.line(kX, kY);
  fig.save(dir / "f.svg");
  const Bytes bytes = slurp(dir / "f.svg");
  CHECK(std::string(bytes.begin(), bytes.end()) == fig.svg());
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  CHECK(files == 1);  // no temporary file left behind
  const fs::path bad = dir / "missing" / "f.svg";
  require_io_error([&] { fig.save(bad); }, bad, "cannot");
  require_io_error([&] { plot::save_png(bad, plot::Image{1, 1, 1, {7}}); }, bad, "cannot");
  require_io_error([&] { plot::save_grid(bad, std::vector<plot::Figure>{fig}, 1); }, bad, "cannot");
}

TEST_CASE("svg_grid places figures side by side with distinct clip paths") {
  std::vector<plot::Figure> figs(3, plot::Figure("", 300, 200));
  figs[0].line(kX, kY);
  figs[2].line(kX, kY, "b");
  const auto all = parse_ok(plot::svg_grid(figs, 2));
  CHECK(all[0].attrs.at("width") == "600");
  CHECK(all[0].attrs.at("height") == "400");
  const auto clips = named(all, "clipPath");
  REQUIRE(clips.size() == 3);
  CHECK(clips[0].attrs.at("id") != clips[1].attrs.at("id"));
  CHECK(clips[1].attrs.at("id") != clips[2].attrs.at("id"));
  CHECK(named(all, "svg").size() == 4);
  CHECK_THROWS_AS(plot::svg_grid(figs, 0), ValueError);
}

// ---- PNG ---------------------------------------------------------------------------

namespace {

std::uint32_t be32(const Bytes& b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// Reads a PNG the encoder wrote: checks the signature, every chunk's CRC and
// the IHDR fields, inflates IDAT and returns the image.
plot::Image decode_png(const Bytes& png) {
  REQUIRE(png.size() > 8);
  CHECK(Bytes(png.begin(), png.begin() + 8) == Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
  std::vector<std::string> types;
  Bytes ihdr, idat;
  for (std::size_t at = 8; at < png.size();) {
    REQUIRE(at + 12 <= png.size());
    const std::uint32_t len = be32(png, at);
    REQUIRE(at + 12 + len <= png.size());
    const std::string type(png.begin() + long(at) + 4, png.begin() + long(at) + 8);
    types.push_back(type);
    const uLong crc = ::crc32(0L, png.data() + at + 4, 4 + len);
    CHECK(crc == be32(png, at + 8 + len));
    const Bytes data(png.begin() + long(at) + 8, png.begin() + long(at + 8 + len));
    if (type == "IHDR") ihdr = data;
    if (type == "IDAT") idat.insert(idat.end(), data.begin(), data.end());
    at += 12 + len;
  }
  CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  REQUIRE(ihdr.size() == 13);
  plot::Image img;
  img.width = be32(ihdr, 0);
  img.height = be32(ihdr, 4);
  CHECK(ihdr[8] == 8);  // bit depth
  REQUIRE((ihdr[9] == 0 || ihdr[9] == 2));
  img.channels = ihdr[9] == 0 ? 1 : 3;
  CHECK(Bytes(ihdr.begin() + 10, ihdr.end()) == Bytes{0, 0, 0});
  const std::size_t row = img.width * img.channels;
  Bytes raw(img.height * (row + 1));
  uLongf size = raw.size();
  REQUIRE(uncompress(raw.data(), &size, idat.data(), idat.size()) == Z_OK);
  REQUIRE(size == raw.size());
  for (std::size_t y = 0; y < img.height; ++y) {
    CHECK(raw[y * (row + 1)] == 0);  // filter type 0
    img.pixels.insert(img.pixels.end(), raw.begin() + long(y * (row + 1) + 1), raw.begin() + long((y + 1) * (row + 1)));
  }
  return img;
}

}  // namespace

TEST_CASE("encode_png writes signature, IHDR, IDAT, IEND with valid CRCs, and pixels round-trip") {
  const std::size_t channels = GENERATE(1, 3);
  plot::Image img{7, 5, channels, {}};
  for (std::size_t i = 0; i < 7 * 5 * channels; ++i) img.pixels.push_back(std::uint8_t(i * 37 % 256));
  const plot::Image back = decode_png(plot::encode_png(img));
  CHECK(back.width == 7);
  CHECK(back.height == 5);
  CHECK(back.channels == channels);
  CHECK(back.pixels == img.pixels);

  TempDir dir("png");
  plot::save_png(dir / "i.png", img);
  CHECK(slurp(dir / "i.png") == plot::encode_png(img));
  CHECK_THROWS_AS(plot::encode_png(plot::Image{2, 2, 1, {1, 2, 3}}), ValueError);
  CHECK_THROWS_AS(plot::encode_png(plot::Image{1, 1, 2, {1, 2}}), ValueError);
}

TEST_CASE("tile lays images out in rows with black padding, upscaled by scale") {
  std::vector<plot::Image> images;
  for (std::uint8_t k = 1; k <= 5; ++k) {
    plot::Image im{2, 3, 1, std::vector<std::uint8_t>(6, k)};
    im.pixels[0] = std::uint8_t(100 + k);  // the top-left pixel marks the tile
    images.push_back(im);
  }
  const plot::Image t = plot::tile(images, 3, 1, 2);
  CHECK(t.width == 3 * 4 + 2);   // 3 tiles of 2*2 pixels, 2 gaps
  CHECK(t.height == 2 * 6 + 1);  // 2 rows of 3*2 pixels, 1 gap
  const auto at = [&](std::size_t x, std::size_t y) { return t.pixels[y * t.width + x]; };
  CHECK(at(0, 0) == 101);
  CHECK(at(1, 1) == 101);  // the marked pixel, upscaled to 2 x 2
  CHECK(at(2, 0) == 1);
  CHECK(at(4, 0) == 0);    // padding
  CHECK(at(5, 0) == 102);
  CHECK(at(10, 0) == 103);
  CHECK(at(0, 7) == 104);
  CHECK(at(5, 12) == 5);
  CHECK(at(10, 7) == 0);   // no sixth image: black
  images[4].width = 3;
  images[4].pixels.resize(9);
  CHECK_THROWS_MATCHES(plot::tile(images, 3), ValueError, what(Contains("image 4")));
}

TEST_CASE("to_image maps the values' own min and max to 0 and 255") {
  const std::vector<float> v = {-1, 0, 1, 3};
  const plot::Image img = plot::to_image(v, 2, 2);
  CHECK(img.pixels == std::vector<std::uint8_t>{0, 64, 128, 255});
  const std::vector<float> flat(6, 2.5f);
  CHECK(plot::to_image(flat, 1, 2, 3).pixels == std::vector<std::uint8_t>(6, 128));
  CHECK_THROWS_MATCHES(plot::to_image(v, 3, 2), ValueError, what(Contains("4 values") && Contains("6")));
}

TEST_CASE("Image sizes whose products overflow are a ValueError, not a wrapped-around buffer") {
  // (2^62 + 1) * 4 wraps around to 4: before the sizes were checked, four
  // values made an "image" 2^62 pixels wide that tile() then wrote far past.
  const std::size_t wide = (std::size_t{1} << 62) + 1;
  const std::vector<float> four = {0, 1, 2, 3};
  CHECK_THROWS_MATCHES(plot::to_image(four, wide, 4), ValueError, what(Contains("to_image") && Contains("cap")));
  const plot::Image forged{wide, 4, 1, {0, 1, 2, 3}};
  CHECK_THROWS_MATCHES(plot::tile(std::vector<plot::Image>{forged}, 1), ValueError, what(Contains("tile")));
  CHECK_THROWS_MATCHES(plot::encode_png(forged), ValueError, what(Contains("encode_png")));
  // A scale or a pad that makes the tiled size wrap around.
  const std::vector<plot::Image> two(2, plot::Image{1, 1, 1, {7}});
  CHECK_THROWS_MATCHES(plot::tile(two, 2, 0, std::size_t{1} << 63), ValueError, what(Contains("overflow")));
  const std::vector<plot::Image> three(3, plot::Image{1, 1, 1, {7}});
  CHECK_THROWS_MATCHES(plot::tile(three, 3, std::size_t{1} << 63, 1), ValueError, what(Contains("overflow")));
  // Over the cap without overflowing: refused before allocating.
  CHECK_THROWS_MATCHES(plot::tile(two, 2, 0, std::size_t{1} << 20), ValueError, what(Contains("cap")));
  // A contour or region grid whose nx * ny wraps around to the number of values.
  plot::Figure fig;
  const std::vector<double> z(4, 1.0);
  CHECK_THROWS_MATCHES(fig.contour(z, wide, 4, 0, 1, 0, 1), ValueError, what(Contains("64 bits")));
  const std::vector<int> classes(4, 0);
  CHECK_THROWS_MATCHES(fig.regions(classes, 4, wide, 0, 1, 0, 1), ValueError, what(Contains("64 bits")));
}
