// Reading back the SVG that slope::plot writes, for test_plot: a small XML
// parser that also checks well-formedness (balanced tags, one root, quoted and
// unique attributes, valid entities), and helpers that pick out elements, the
// points of polylines and paths, the plot area and the tick labels.
#pragma once

#include <catch2/catch.hpp>

#include <cctype>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace slope::testing::svg {

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // character data directly inside, entities decoded
  int parent = -1;
};

// Decodes entities; returns false on a bare '&' or an unknown entity.
inline bool decode(const std::string& s, std::string& out) {
  static const std::map<std::string, std::string> entities = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const auto semi = s.find(';', i);
    if (semi == std::string::npos) return false;
    const std::string name = s.substr(i + 1, semi - i - 1);
    if (entities.count(name)) out += entities.at(name);
    else if (name.size() > 1 && name[0] == '#' && name.find_first_not_of("0123456789", 1) == std::string::npos)
      out += '?';
    else return false;
    i = semi;
  }
  return true;
}

// Parses a whole document; on a defect returns the elements so far and sets `error`.
inline std::vector<Element> parse_xml(const std::string& s, std::string& error) {
  std::vector<Element> elements;
  std::vector<int> open;
  std::size_t pos = 0, roots = 0;
  const auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '-' || c == '.'; };
  const auto skip_ws = [&] { while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos; };
  const auto read_name = [&] {
    const std::size_t start = pos;
    while (pos < s.size() && is_name(s[pos])) ++pos;
    return s.substr(start, pos - start);
  };
  if (s.rfind("<?xml", 0) == 0) pos = s.find("?>") + 2;
  while (pos < s.size() && error.empty()) {
    if (s[pos] != '<') {  // character data
      const std::size_t end = std::min(s.find('<', pos), s.size());
      const std::string raw = s.substr(pos, end - pos);
      std::string text;
      if (raw.find('>') != std::string::npos || !decode(raw, text)) error = "bad character data: " + raw;
      else if (open.empty() && raw.find_first_not_of(" \n\r\t") != std::string::npos) error = "text outside the root";
      else if (!open.empty()) elements[static_cast<std::size_t>(open.back())].text += text;
      pos = end;
    } else if (s.compare(pos, 4, "<!--") == 0) {
      pos = s.find("-->", pos) + 3;
    } else if (s.compare(pos, 2, "</") == 0) {
      pos += 2;
      const std::string name = read_name();
      skip_ws();
      if (open.empty() || elements[static_cast<std::size_t>(open.back())].name != name || pos >= s.size() || s[pos] != '>')
        error = "unbalanced </" + name + ">";
      else open.pop_back(), ++pos;
    } else {
      ++pos;
      Element e;
      e.name = read_name();
      e.parent = open.empty() ? -1 : open.back();
      if (e.name.empty()) error = "empty tag name";
      if (open.empty() && roots++ > 0) error = "a second root element";
      for (;;) {
        skip_ws();
        if (pos >= s.size()) { error = "unterminated tag"; break; }
        if (s[pos] == '>' || s.compare(pos, 2, "/>") == 0) break;
        const std::string key = read_name();
        skip_ws();
        if (key.empty() || pos >= s.size() || s[pos] != '=') { error = "attribute without value in <" + e.name + ">"; break; }
        ++pos;
        skip_ws();
        const char quote = pos < s.size() ? s[pos] : 0;
        const std::size_t close = s.find(quote, pos + 1);
        if ((quote != '"' && quote != '\'') || close == std::string::npos) { error = "unquoted attribute " + key; break; }
        const std::string raw = s.substr(pos + 1, close - pos - 1);
        std::string value;
        if (raw.find('<') != std::string::npos || !decode(raw, value)) { error = "bad attribute value " + raw; break; }
        if (e.attrs.count(key)) { error = "duplicate attribute " + key; break; }
        e.attrs[key] = value;
        pos = close + 1;
      }
      if (!error.empty()) break;
      elements.push_back(e);
      if (s[pos] == '>') open.push_back(static_cast<int>(elements.size() - 1)), pos += 1;
      else pos += 2;
    }
  }
  if (error.empty() && !open.empty()) error = "unclosed <" + elements[static_cast<std::size_t>(open.back())].name + ">";
  if (error.empty() && roots != 1) error = "no root element";
  return elements;
}

inline std::vector<Element> parse_ok(const std::string& svg) {
  std::string error;
  auto elements = parse_xml(svg, error);
  INFO(svg.substr(0, 2000));
  REQUIRE(error == "");
  return elements;
}

inline std::vector<Element> named(const std::vector<Element>& all, const std::string& name) {
  std::vector<Element> out;
  for (const auto& e : all)
    if (e.name == name) out.push_back(e);
  return out;
}

struct Pt {
  double x, y;
};

// "x,y x,y ..." (polyline points) or "Mx,y x,y Mx,y ..." (path data, one list per subpath).
inline std::vector<std::vector<Pt>> point_lists(const std::string& text) {
  std::vector<std::vector<Pt>> out;
  std::string s = text;
  if (s.empty() || s[0] != 'M') s = "M" + s;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, 'M');) {
    if (part.empty()) continue;
    out.emplace_back();
    std::istringstream pairs(part);
    for (std::string p; pairs >> p;) {
      const auto comma = p.find(',');
      out.back().push_back({std::stod(p.substr(0, comma)), std::stod(p.substr(comma + 1))});
    }
  }
  return out;
}

// The plot area: the rectangle of the clip path.
struct Area {
  double x, y, w, h;
};
inline Area plot_area(const std::vector<Element>& all) {
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].name == "rect" && all[i].parent >= 0 && all[static_cast<std::size_t>(all[i].parent)].name == "clipPath")
      return {std::stod(all[i].attrs.at("x")), std::stod(all[i].attrs.at("y")),
              std::stod(all[i].attrs.at("width")), std::stod(all[i].attrs.at("height"))};
  FAIL("no clip rectangle");
  return {};
}

// The text of the children of the <g> with class `cls` (tick labels, legend).
inline std::vector<std::string> texts_in(const std::vector<Element>& all, const std::string& cls,
                                  const std::string& anchor = "") {
  std::vector<std::string> out;
  for (const auto& e : all)
    if (e.name == "text" && e.parent >= 0 && all[static_cast<std::size_t>(e.parent)].attrs.count("class") &&
        all[static_cast<std::size_t>(e.parent)].attrs.at("class") == cls &&
        (anchor.empty() || e.attrs.at("text-anchor") == anchor))
      out.push_back(e.text);
  return out;
}

}  // namespace slope::testing::svg
