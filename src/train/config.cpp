// Config fields by name: the one table of names, help texts, parsing and checks.
#include <charconv>
#include <cmath>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "slope/nn/layers.hpp"
#include "slope/train/config.hpp"
#include "slope/train/registry.hpp"

namespace slope::train {

namespace {

// Visits every field with its name and help text; set/get/keys/help share it.
template <class C, class F>
void for_each_field(C& c, F&& f) {
  f("model", c.model, "the model: " + entry_names(models()));
  f("hidden", c.hidden, "hidden sizes, e.g. 512 or 512,256 (mlp: one per layer)");
  f("blocks", c.blocks, "residual: hidden-width blocks with a skip connection");
  f("activation", c.activation, "after every hidden layer: " + entry_names(nn::activations()));
  f("dropout", c.dropout, "probability of dropping a hidden unit while training (one, or one per layer)");
  f("loss", c.loss, "the data loss: " + entry_names(losses()));
  f("reg", c.reg, "regularizer on the weight matrices: " + entry_names(regularizers()));
  f("lambda", c.lambda, "regularization strength");
  f("beta", c.beta, "elastic net: beta * L2 + L1");
  f("optimizer", c.optimizer, "the optimizer: " + entry_names(optim::registry()));
  f("lr", c.lr, "peak learning rate");
  f("momentum", c.momentum, "momentum rho (momentum, nesterov)");
  f("beta1", c.beta1, "Adam's first-moment decay");
  f("beta2", c.beta2, "Adam's second-moment decay");
  f("eps", c.eps, "added after the square root (adaptive methods)");
  f("alpha", c.alpha, "RMSProp's decay of grad_sq");
  f("weight_decay", c.weight_decay, "AdamW: decoupled; others: added to the gradient");
  f("decay_biases", c.decay_biases, "also decay the biases (true/false)");
  f("clip_norm", c.clip_norm, "clip the global gradient norm (0: off)");
  f("schedule", c.schedule, "learning-rate schedule: " + entry_names(schedules()));
  f("warmup_epochs", c.warmup_epochs, "linear warm-up before the schedule (0: none)");
  f("gamma", c.gamma, "step decay: times gamma at 50% and 75% of the run");
  f("min_lr", c.min_lr, "cosine floor");
  f("epochs", c.epochs, "passes over the training split");
  f("batch", c.batch, "minibatch size (the global batch, over all processes)");
  f("base_batch", c.base_batch, "linear scaling rule: lr is for this batch; the run uses lr * batch / base_batch, "
                                "warmed up from lr over warmup_epochs (Goyal et al.: 5) (0: off)");
  f("seed", c.seed, "seed of initialisation, split, shuffling and dropout");
  f("val_size", c.val_size, "validation examples carved from the training set (a fifth of a small set)");
  f("center", c.center, "subtract the training mean image (true/false)");
}

std::string format_value(const std::string& v) { return v; }
std::string format_value(double v) { return fmt::format("{:.17g}", v); }
std::string format_value(bool v) { return v ? "true" : "false"; }
template <class I>
  requires std::is_integral_v<I>
std::string format_value(I v) { return fmt::format("{}", v); }
std::string format_value(const std::vector<std::size_t>& v) { return fmt::format("{}", fmt::join(v, ",")); }
std::string format_value(const std::vector<double>& v) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : ",") + format_value(x);
  return out;
}

// Values in messages: the shortest text that reads back as the value ("0.1",
// where to_text() writes 17 digits).
std::string shortest(const std::vector<double>& v) { return fmt::format("{}", fmt::join(v, ",")); }

ValueError bad(const std::string& key, const std::string& text, const char* what) {
  return ValueError(fmt::format("{}: expected {}, got '{}'", key, what, text));
}

void parse_value(const std::string& /*key*/, const std::string& text, std::string& out) { out = text; }
void parse_value(const std::string& key, const std::string& text, double& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc() || p != end || text.empty() || !std::isfinite(out))
    throw bad(key, text, "a finite number");
}
void parse_value(const std::string& key, const std::string& text, bool& out) {
  if (text == "true" || text == "1" || text == "yes") out = true;
  else if (text == "false" || text == "0" || text == "no") out = false;
  else throw bad(key, text, "true or false");
}
template <class I>
  requires std::is_integral_v<I>
void parse_value(const std::string& key, const std::string& text, I& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  if (ec == std::errc::result_out_of_range) throw bad(key, text, "an integer that fits in 64 bits");
  if (ec != std::errc() || p != end || text.empty()) throw bad(key, text, "a non-negative integer");
}
template <class V>
void parse_list(const std::string& key, const std::string& text, std::vector<V>& out, const char* what) {
  std::vector<V> v;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    V x{};
    parse_value(key, part, x);
    v.push_back(x);
  }
  if (v.empty() || (!text.empty() && text.back() == ',')) throw bad(key, text, what);
  out = std::move(v);
}
void parse_value(const std::string& key, const std::string& text, std::vector<std::size_t>& out) {
  parse_list(key, text, out, "sizes like 512 or 512,256");
}
void parse_value(const std::string& key, const std::string& text, std::vector<double>& out) {
  parse_list(key, text, out, "numbers like 0.5 or 0.5,0.2");
}

void require(bool ok, const char* key, const char* what, const std::string& got) {
  if (!ok) throw ValueError(fmt::format("{} must be {}: got {}", key, what, got));
}

template <class Table>
void require_name(const Table& table, const char* key, const std::string& value) {
  if (!find_entry(table, value))
    throw ValueError(fmt::format("{} must be one of {}: got '{}'", key, entry_names(table), value));
}

}  // namespace

void Config::set(const std::string& key, const std::string& value) {
  bool found = false;
  for_each_field(*this, [&](const char* name, auto& field, const std::string&) {
    if (key == name) parse_value(key, value, field), found = true;
  });
  if (!found) throw ValueError(fmt::format("unknown setting '{}'", key));
}

std::string Config::get(const std::string& key) const {
  std::string out;
  bool found = false;
  for_each_field(*this, [&](const char* name, const auto& field, const std::string&) {
    if (key == name) out = format_value(field), found = true;
  });
  if (!found) throw ValueError(fmt::format("unknown setting '{}'", key));
  return out;
}

const std::vector<std::string>& Config::keys() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    Config c;
    for_each_field(c, [&](const char* name, auto&, const std::string&) { v.emplace_back(name); });
    return v;
  }();
  return names;
}

const std::string& Config::help(const std::string& key) {
  static const std::map<std::string, std::string> texts = [] {
    std::map<std::string, std::string> m;
    Config c;
    for_each_field(c, [&](const char* name, auto&, const std::string& h) { m[name] = h; });
    return m;
  }();
  const auto it = texts.find(key);
  if (it == texts.end()) throw ValueError(fmt::format("unknown setting '{}'", key));
  return it->second;
}

std::string Config::to_text() const {
  std::string out;
  for (const auto& k : keys()) out += k + "=" + get(k) + "\n";
  return out;
}

std::string Config::model_text() const {
  std::string out;
  for (const char* k : {"model", "hidden", "blocks", "activation", "dropout"}) out += std::string(k) + "=" + get(k) + "\n";
  return out;
}

Config Config::from_text(const std::string& text) {
  Config c;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw ValueError(fmt::format("config line without '=': {}", line));
    c.set(line.substr(0, eq), line.substr(eq + 1));
  }
  return c;
}

void Config::validate() const {
  const auto num = [](double v) { return fmt::format("{}", v); };
  const auto count = [](std::size_t v) { return fmt::format("{}", v); };
  require_name(models(), "model", model);
  // Only models with hidden layers read --hidden (the linear classifier does not).
  if (const ModelEntry* m = find_entry(models(), model); m && std::string_view(m->uses).find("hidden") != std::string_view::npos) {
    require(!hidden.empty(), "hidden", "at least one size", "none");
    for (std::size_t h : hidden) require(h > 0 && h <= kMaxHidden, "hidden", "sizes in [1, 1048576]", format_value(hidden));
  }
  require(blocks >= 1 && blocks <= 1000, "blocks", "in [1, 1000]", count(blocks));
  require_name(nn::activations(), "activation", activation);
  require(!dropout.empty(), "dropout", "one value or one per hidden layer", "none");
  for (double p : dropout) require(p >= 0.0 && p < 1.0, "dropout", "in [0, 1)", shortest(dropout));
  if (const ModelEntry* m = find_entry(models(), model); m && dropout.size() > 1 &&
      dropout.size() != m->hidden_layers(*this))
    throw ValueError(fmt::format("dropout must be one value or one per hidden layer ({} for this model): got {}",
                                 m->hidden_layers(*this), shortest(dropout)));
  require_name(losses(), "loss", loss);
  require_name(regularizers(), "reg", reg);
  require(std::isfinite(lambda) && lambda >= 0.0, "lambda", "finite and >= 0", num(lambda));
  require(std::isfinite(beta) && beta >= 0.0, "beta", "finite and >= 0", num(beta));
  require_name(optim::registry(), "optimizer", optimizer);
  require(std::isfinite(lr) && lr >= 0.0, "lr", "finite and >= 0", num(lr));
  require(momentum >= 0.0 && momentum < 1.0, "momentum", "in [0, 1)", num(momentum));
  require(beta1 >= 0.0 && beta1 < 1.0, "beta1", "in [0, 1)", num(beta1));
  require(beta2 >= 0.0 && beta2 < 1.0, "beta2", "in [0, 1)", num(beta2));
  require(std::isfinite(eps) && eps >= 0.0, "eps", "finite and >= 0", num(eps));
  require(alpha >= 0.0 && alpha < 1.0, "alpha", "in [0, 1)", num(alpha));
  require(std::isfinite(weight_decay) && weight_decay >= 0.0, "weight_decay", "finite and >= 0", num(weight_decay));
  require(std::isfinite(clip_norm) && clip_norm >= 0.0, "clip_norm", "finite and >= 0", num(clip_norm));
  require_name(schedules(), "schedule", schedule);
  require(epochs > 0 && epochs <= kMaxEpochs, "epochs", "in [1, 1000000]", count(epochs));
  require(batch > 0 && batch <= kMaxBatch, "batch", "in [1, 16777216]", count(batch));
  require(base_batch <= kMaxBatch, "base_batch", "in [0, 16777216]", count(base_batch));
  require(std::isfinite(warmup_epochs) && warmup_epochs >= 0.0 && warmup_epochs <= static_cast<double>(epochs),
          "warmup_epochs", "finite, >= 0 and at most epochs", num(warmup_epochs));
  require(std::isfinite(gamma) && gamma > 0.0, "gamma", "finite and > 0", num(gamma));
  require(std::isfinite(min_lr) && min_lr >= 0.0 && min_lr <= lr, "min_lr", "finite, >= 0 and at most lr", num(min_lr));
}

}  // namespace slope::train
