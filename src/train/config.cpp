// Config fields by name, and the factories that turn names into objects.
#include <charconv>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "slope/loss.hpp"
#include "slope/train.hpp"

namespace slope::train {

namespace {

// Visits every field with its name; the one list that set/get/keys share.
template <class C, class F>
void for_each_field(C& c, F&& f) {
  f("model", c.model), f("hidden", c.hidden), f("loss", c.loss), f("reg", c.reg);
  f("lambda", c.lambda), f("beta", c.beta), f("dropout", c.dropout), f("optimizer", c.optimizer), f("lr", c.lr);
  f("momentum", c.momentum), f("beta1", c.beta1), f("beta2", c.beta2), f("eps", c.eps);
  f("alpha", c.alpha), f("weight_decay", c.weight_decay), f("clip_norm", c.clip_norm);
  f("schedule", c.schedule), f("warmup_epochs", c.warmup_epochs), f("gamma", c.gamma);
  f("min_lr", c.min_lr), f("epochs", c.epochs), f("batch", c.batch), f("seed", c.seed);
  f("val_size", c.val_size), f("center", c.center), f("engine", c.engine);
}

std::string format_value(const std::string& v) { return v; }
std::string format_value(double v) { return fmt::format("{:.17g}", v); }
std::string format_value(bool v) { return v ? "true" : "false"; }
template <class I>
  requires std::is_integral_v<I>
std::string format_value(I v) { return fmt::format("{}", v); }
std::string format_value(const std::vector<std::size_t>& v) { return fmt::format("{}", fmt::join(v, ",")); }

ValueError bad(const std::string& key, const std::string& text, const char* what) {
  return ValueError(fmt::format("{}: expected {}, got '{}'", key, what, text));
}

void parse_value(const std::string& /*key*/, const std::string& text, std::string& out) { out = text; }
void parse_value(const std::string& key, const std::string& text, double& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc() || p != end || text.empty()) throw bad(key, text, "a number");
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
  if (ec != std::errc() || p != end || text.empty()) throw bad(key, text, "a non-negative integer");
}
void parse_value(const std::string& key, const std::string& text, std::vector<std::size_t>& out) {
  std::vector<std::size_t> v;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    std::size_t n = 0;
    parse_value(key, part, n);
    v.push_back(n);
  }
  if (v.empty()) throw bad(key, text, "sizes like 512 or 512,256");
  out = std::move(v);
}

void require(bool ok, const char* key, const char* what, const std::string& got) {
  if (!ok) throw ValueError(fmt::format("{} must be {}: got {}", key, what, got));
}

bool one_of(const std::string& v, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (v == n) return true;
  return false;
}

}  // namespace

void Config::set(const std::string& key, const std::string& value) {
  bool found = false;
  for_each_field(*this, [&](const char* name, auto& field) {
    if (key == name) parse_value(key, value, field), found = true;
  });
  if (!found) throw ValueError(fmt::format("unknown setting '{}'", key));
}

std::string Config::get(const std::string& key) const {
  std::string out;
  bool found = false;
  for_each_field(*this, [&](const char* name, const auto& field) {
    if (key == name) out = format_value(field), found = true;
  });
  if (!found) throw ValueError(fmt::format("unknown setting '{}'", key));
  return out;
}

const std::vector<std::string>& Config::keys() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    Config c;
    for_each_field(c, [&](const char* name, auto&) { v.emplace_back(name); });
    return v;
  }();
  return names;
}

std::string Config::to_text() const {
  std::string out;
  for (const auto& k : keys()) out += k + "=" + get(k) + "\n";
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
  require(one_of(model, {"linear", "two-layer", "mlp"}), "model", "linear, two-layer or mlp", model);
  if (model != "linear") {
    require(!hidden.empty(), "hidden", "at least one size", "none");
    for (std::size_t h : hidden) require(h > 0, "hidden", "positive sizes", format_value(hidden));
  }
  require(one_of(loss, {"softmax", "svm"}), "loss", "softmax or svm", loss);
  require(one_of(engine, {"fused", "graph"}), "engine", "fused or graph", engine);
  require(one_of(reg, {"none", "l2", "l1", "elastic"}), "reg", "none, l2, l1 or elastic", reg);
  require(lambda >= 0.0, "lambda", ">= 0", num(lambda));
  require(beta >= 0.0, "beta", ">= 0", num(beta));
  require(dropout >= 0.0 && dropout < 1.0, "dropout", "in [0, 1)", num(dropout));
  require(one_of(optimizer, {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}),
          "optimizer", "one of sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw", optimizer);
  require(lr >= 0.0, "lr", ">= 0", num(lr));
  require(momentum >= 0.0 && momentum < 1.0, "momentum", "in [0, 1)", num(momentum));
  require(beta1 >= 0.0 && beta1 < 1.0, "beta1", "in [0, 1)", num(beta1));
  require(beta2 >= 0.0 && beta2 < 1.0, "beta2", "in [0, 1)", num(beta2));
  require(eps >= 0.0, "eps", ">= 0", num(eps));
  require(alpha >= 0.0 && alpha < 1.0, "alpha", "in [0, 1)", num(alpha));
  require(weight_decay >= 0.0, "weight_decay", ">= 0", num(weight_decay));
  require(clip_norm >= 0.0, "clip_norm", ">= 0", num(clip_norm));
  require(one_of(schedule, {"constant", "step", "cosine", "linear", "invsqrt"}), "schedule",
          "constant, step, cosine, linear or invsqrt", schedule);
  require(warmup_epochs >= 0.0, "warmup_epochs", ">= 0", num(warmup_epochs));
  require(gamma > 0.0, "gamma", "> 0", num(gamma));
  require(min_lr >= 0.0, "min_lr", ">= 0", num(min_lr));
  require(epochs > 0, "epochs", "positive", "0");
  require(batch > 0, "batch", "positive", "0");
}

std::vector<std::size_t> Config::layer_sizes(std::size_t in, std::size_t classes) const {
  std::vector<std::size_t> sizes{in};
  if (model == "two-layer") sizes.push_back(hidden.at(0));
  if (model == "mlp") sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(classes);
  return sizes;
}

template <class T>
TensorT<T> data_loss(const std::string& loss, const TensorT<T>& scores,
                     std::span<const std::int32_t> labels) {
  return loss == "svm" ? svm_loss(scores, labels) : softmax_cross_entropy(scores, labels);
}

template <class T>
TensorT<T> regularization(const Config& c, const std::vector<TensorT<T>>& weights) {
  if (c.reg == "none" || c.lambda == 0.0) return scalar<T>(T(0));
  const TensorT<T> r = c.reg == "l2"   ? l2(weights)
                       : c.reg == "l1" ? l1(weights)
                                       : elastic_net(weights, c.beta);
  return r * static_cast<T>(c.lambda);
}

std::unique_ptr<optim::Optimizer<float>> make_optimizer(const Config& c, std::vector<Tensor> params) {
  using namespace optim;
  const std::string& o = c.optimizer;
  if (o == "sgd" || o == "momentum" || o == "nesterov")
    return std::make_unique<SGD<float>>(
        std::move(params), SGDOptions{.lr = c.lr, .momentum = o == "sgd" ? 0.0 : c.momentum,
                                      .weight_decay = c.weight_decay, .nesterov = o == "nesterov"});
  if (o == "adagrad")
    return std::make_unique<AdaGrad<float>>(
        std::move(params), AdaGradOptions{.lr = c.lr, .weight_decay = c.weight_decay, .eps = c.eps});
  if (o == "rmsprop")
    return std::make_unique<RMSProp<float>>(
        std::move(params),
        RMSPropOptions{.lr = c.lr, .alpha = c.alpha, .eps = c.eps, .weight_decay = c.weight_decay});
  if (o == "adam")
    return std::make_unique<Adam<float>>(
        std::move(params), AdamOptions{.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2,
                                       .eps = c.eps, .weight_decay = c.weight_decay});
  if (o == "adamw")
    return std::make_unique<AdamW<float>>(
        std::move(params), AdamWOptions{.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2,
                                        .eps = c.eps, .weight_decay = c.weight_decay});
  throw ValueError(fmt::format("optimizer: unknown name '{}'", o));
}

sched::Schedule make_schedule(const Config& c, std::int64_t steps_per_epoch) {
  const auto total = static_cast<std::int64_t>(c.epochs) * steps_per_epoch;
  const auto warm = static_cast<std::int64_t>(std::llround(c.warmup_epochs * steps_per_epoch));
  const std::int64_t rest = std::max<std::int64_t>(1, total - warm);
  sched::Schedule s;
  if (c.schedule == "constant") s = sched::constant(c.lr);
  else if (c.schedule == "step") {
    // At 50% and 75% of the run; a run too short to tell them apart decays once
    // (step_decay needs strictly increasing milestones).
    std::vector<std::int64_t> milestones{rest / 2};
    if (rest * 3 / 4 > rest / 2) milestones.push_back(rest * 3 / 4);
    s = sched::step_decay(c.lr, std::move(milestones), c.gamma);
  }
  else if (c.schedule == "cosine") s = sched::cosine(c.lr, rest, c.min_lr);
  else if (c.schedule == "linear") s = sched::linear_decay(c.lr, rest);
  else if (c.schedule == "invsqrt") s = sched::inverse_sqrt(c.lr);
  else throw ValueError(fmt::format("schedule: unknown name '{}'", c.schedule));
  return warm > 0 ? sched::warmup(warm, std::move(s)) : s;
}

data::Dataset load_dataset(const std::string& name, const std::filesystem::path& dir,
                           std::string_view split) {
  if (name == "fashion-mnist") return data::fashion_mnist(split, dir.empty() ? data::kFashionMnistDir : dir);
  if (name == "mnist") {
    if (dir.empty()) throw ValueError("mnist: --data-dir is required (no packaged copy)");
    return data::load_idx_split(dir, split);
  }
  if (name == "cifar10") {
    if (dir.empty()) throw ValueError("cifar10: --data-dir is required (bring your own copy)");
    return data::cifar10(split, dir);
  }
  if (name == "spiral") {
    // A fixed seed per split: the same points every run, different for test.
    Rng rng(split == "test" ? 7919 : 104729);
    return data::spiral(3, split == "test" ? 100 : 300, rng);
  }
  throw ValueError(fmt::format("dataset: unknown name '{}' (fashion-mnist, mnist, cifar10, spiral)", name));
}

template TensorT<float> data_loss<float>(const std::string&, const TensorT<float>&, std::span<const std::int32_t>);
template TensorT<double> data_loss<double>(const std::string&, const TensorT<double>&, std::span<const std::int32_t>);
template TensorT<float> regularization<float>(const Config&, const std::vector<TensorT<float>>&);
template TensorT<double> regularization<double>(const Config&, const std::vector<TensorT<double>>&);

}  // namespace slope::train
