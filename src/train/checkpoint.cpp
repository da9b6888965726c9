// Saving and resuming runs, exporting models, and the preprocessing text.
//
// A checkpoint (io::Checkpoint's container: magic, version, CRC) holds
//   meta   kind, version, config, dataset, architecture, step, preprocess,
//          optim/kind, optim/scalar/<name> (hex floats), batches/...
//   arrays model/<parameter name> (f32), optim/<parameter name>/<buffer> (f64),
//          batches/order
// A valid CRC proves only that the bytes are the ones written; every entry is
// still checked against the model and the optimizer before it is used.
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "slope/io.hpp"
#include "slope/nn/state.hpp"
#include "slope/train/registry.hpp"
#include "slope/train/trainer.hpp"

namespace slope::train {

namespace {

constexpr const char* kKind = "slope-train-checkpoint";
constexpr const char* kVersion = "2";

// A number written with "{:a}" (or any exact decimal), strictly: the whole
// text, finite. The sign is taken off first, so that "-0x1p-8" is negative
// (from_chars' hex format has no "0x" prefix to skip after a sign).
double parse_double(const std::string& text, const std::string& what) {
  const bool negative = text.rfind('-', 0) == 0;
  std::string body = text.substr(negative ? 1 : 0);
  const bool hex = body.rfind("0x", 0) == 0;
  if (hex) body.erase(0, 2);
  double v = 0.0;
  const char* b = body.data();
  auto [p, ec] = std::from_chars(b, b + body.size(), v, hex ? std::chars_format::hex : std::chars_format::general);
  if (body.empty() || body[0] == '-' || ec != std::errc() || p != b + body.size() || !std::isfinite(v))
    throw ValueError(fmt::format("{} is not a finite number: '{}'", what, text));
  return negative ? -v : v;
}

std::uint64_t parse_count(const std::string& text, const std::string& what) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    throw ValueError(fmt::format("{} is not a count: '{}'", what, text));
  return v;
}

std::string hex(double v) { return fmt::format("{:a}", v); }

// Runs `f`; any slope error it throws becomes an IoError naming the file.
template <class F>
auto naming(const std::filesystem::path& path, F&& f) {
  try {
    return f();
  } catch (const IoError&) {
    throw;
  } catch (const Error& e) {
    throw IoError(fmt::format("{}: {}", path.string(), e.what()));
  }
}

}  // namespace

// ---- preprocessing as text -----------------------------------------------------------

std::string preprocess_text(const data::Preprocess& p) {
  std::string out = fmt::format("{{\"scale\": {:.17g}, \"mean\": [", p.scale);
  for (std::size_t i = 0; i < p.mean.size(); ++i) out += fmt::format("{}{:.17g}", i ? ", " : "", p.mean[i]);
  return out + "]}";
}

data::Preprocess preprocess_from_text(const std::string& text, std::size_t dim) {
  // Exactly the shape preprocess_text writes; 17 significant digits read back exactly.
  const auto fail = [&] { return ValueError("preprocess: malformed text (expected {\"scale\": x, \"mean\": [...]})"); };
  const std::string head = "{\"scale\": ";
  if (text.rfind(head, 0) != 0) throw fail();
  std::size_t at = head.size();
  const auto number = [&](double& v) {
    auto [p, ec] = std::from_chars(text.data() + at, text.data() + text.size(), v);
    if (ec != std::errc() || !std::isfinite(v)) throw fail();
    at = static_cast<std::size_t>(p - text.data());
  };
  const auto literal = [&](const std::string& s) {
    if (text.compare(at, s.size(), s) != 0) throw fail();
    at += s.size();
  };
  data::Preprocess p;
  number(p.scale);
  if (!(p.scale > 0.0)) throw ValueError(fmt::format("preprocess: scale must be > 0: got {}", p.scale));
  literal(", \"mean\": [");
  if (text.compare(at, 1, "]") != 0) {
    for (;;) {
      if (p.mean.size() >= dim) throw ValueError(fmt::format("preprocess: more than the {} means the examples need", dim));
      double v = 0.0;
      number(v);
      p.mean.push_back(v);
      if (text.compare(at, 2, ", ") != 0) break;
      at += 2;
    }
  }
  literal("]}");
  if (at != text.size()) throw fail();
  if (!p.mean.empty() && p.mean.size() != dim)
    throw ValueError(fmt::format("preprocess: {} means for examples of {} values", p.mean.size(), dim));
  return p;
}

// ---- checkpoints -------------------------------------------------------------------------

io::Checkpoint Trainer::checkpoint() const {
  io::Checkpoint ckpt;
  ckpt.set_meta("kind", kKind);
  ckpt.set_meta("version", kVersion);
  ckpt.set_meta("config", config_.to_text());
  ckpt.set_meta("dataset", train_.name);
  ckpt.set_meta("architecture", model_->describe());
  ckpt.set_meta("step", std::to_string(step_));
  ckpt.set_meta("preprocess", preprocess_text(prep_));
  for (const auto& [name, p] : model_->named_parameters())
    ckpt.put<float>("model/" + name, std::span(p.data(), p.size()), p.shape());
  const optim::OptimizerState st = optimizer_->state();
  ckpt.set_meta("optim/kind", st.kind);
  for (const auto& [name, v] : st.scalars) ckpt.set_meta("optim/scalar/" + name, hex(v));
  for (const auto& [pname, buffers] : st.params)
    for (const auto& [bname, a] : buffers)
      ckpt.put<double>("optim/" + pname + "/" + bname, std::span(a.data(), a.size()),
                       Shape(a.shape().begin(), a.shape().end()));
  data::put_position(ckpt, "batches/", batches_->position());
  return ckpt;
}

void Trainer::save(const std::filesystem::path& path) const { checkpoint().save(path); }

std::unique_ptr<Trainer> Trainer::resume(const std::filesystem::path& path, const data::Dataset& train,
                                         std::size_t epochs) {
  return resume(path, train, nullptr, nullptr, epochs);
}

std::unique_ptr<Trainer> Trainer::resume(const std::filesystem::path& path, const data::Dataset& train,
                                         ModelFactory model, LossFn loss, std::size_t epochs) {
  const io::Checkpoint ckpt = io::Checkpoint::load(path);
  return naming(path, [&] {
    if (!ckpt.has_meta("kind") || ckpt.meta("kind") != kKind)
      throw IoError(fmt::format("{}: not a slope training checkpoint", path.string()));
    if (!ckpt.has_meta("config")) throw ValueError("no 'config' entry");
    Config config = Config::from_text(ckpt.meta("config"));
    config.validate();  // as saved: epochs at most kMaxEpochs
    if (epochs) config.epochs = epochs;
    config.validate();
    // Sizes first: the saved parameters must be as many as the configured
    // model has, before that model is allocated.
    std::uint64_t saved = 0;
    for (const auto& [key, a] : ckpt.arrays())
      if (key.rfind("model/", 0) == 0) saved += numel(a.shape);
    if (!model) {
      const std::uint64_t want = entry(models(), config.model, "model").size(config, train.dim(), train.num_classes());
      if (want != saved)
        throw ValueError(fmt::format("the configured {} model has {} parameters, the checkpoint {}",
                                     config.model, want, saved));
    }
    auto t = std::make_unique<Trainer>(config, train, model, loss);
    t->restore(ckpt);
    return t;
  });
}

void Trainer::restore(const io::Checkpoint& ckpt) {
  const auto meta = [&](const std::string& key) -> const std::string& {
    if (!ckpt.has_meta(key)) throw ValueError(fmt::format("no '{}' entry", key));
    return ckpt.meta(key);
  };
  if (meta("kind") != kKind) throw ValueError("not a slope training checkpoint");
  if (meta("version") != kVersion)
    throw ValueError(fmt::format("checkpoint version {} (this build reads {})", meta("version"), kVersion));
  if (meta("dataset") != train_.name)
    throw ValueError(fmt::format("saved on {}, cannot resume on {}", meta("dataset"), train_.name));
  // Every entry must be one this run writes; nothing else is accepted.
  std::set<std::string> expected_meta = {"kind", "version", "config", "dataset", "architecture", "step",
                                         "preprocess", "optim/kind"};
  for (const auto& key : {"epoch", "offset", "rng"}) expected_meta.insert(std::string("batches/") + key);
  for (const auto& [key, value] : ckpt.metadata())
    if (!expected_meta.count(key) && key.rfind("optim/scalar/", 0) != 0)
      throw ValueError(fmt::format("unexpected entry '{}'", key));
  // The model: names, shapes, dtype, finite values (load_state_dict checks all).
  io::TensorFile weights;
  optim::OptimizerState st;
  for (const auto& [key, a] : ckpt.arrays()) {
    if (key.rfind("model/", 0) == 0) {
      if (a.dtype != io::DType::f32) throw ValueError(fmt::format("'{}' is {}, not f32", key, io::dtype_name(a.dtype)));
      weights.tensors[key.substr(6)] = a;
    } else if (key.rfind("optim/", 0) == 0) {
      const auto slash = key.rfind('/');
      if (slash <= 6) throw ValueError(fmt::format("malformed optimizer entry '{}'", key));
      if (a.dtype != io::DType::f64) throw ValueError(fmt::format("'{}' is {}, not f64", key, io::dtype_name(a.dtype)));
      const auto values = a.to_vector<double>();
      xt::xarray<double> arr = xt::xarray<double>::from_shape(a.shape);
      std::copy(values.begin(), values.end(), arr.data());
      st.params[key.substr(6, slash - 6)][key.substr(slash + 1)] = std::move(arr);
    } else if (key != "batches/order") {
      throw ValueError(fmt::format("unexpected array '{}'", key));
    }
  }
  // The data: the split and preprocessing are recomputed from the seed and
  // the data set, so they must come out exactly as saved.
  const data::Preprocess saved_prep = preprocess_from_text(meta("preprocess"), train_.dim());
  if (saved_prep.mean != prep_.mean || saved_prep.scale != prep_.scale)
    throw ValueError("the training data differ from the run's (their preprocessing does not match)");
  st.kind = meta("optim/kind");
  for (const auto& [key, value] : ckpt.metadata())
    if (key.rfind("optim/scalar/", 0) == 0) st.scalars[key.substr(13)] = parse_double(value, "'" + key + "'");
  const std::uint64_t step = parse_count(meta("step"), "'step'");
  // The model first (load_state_dict checks every entry before it writes),
  // then the optimizer; the data position is checked on a copy.
  nn::load_state_dict(*model_, weights, "model");
  optimizer_->load_state(st);
  data::Minibatches batches = *batches_;
  batches.restore(data::get_position(ckpt, "batches/"));
  // A run saves at most after its last epoch; a larger epoch (which would
  // also make the step product below wrap around) is not one it wrote.
  const std::size_t saved_epochs = Config::from_text(meta("config")).epochs;
  if (batches.epoch() > saved_epochs)
    throw ValueError(fmt::format("epoch {} is past the run's {} epochs", batches.epoch(), saved_epochs));
  const std::uint64_t per_epoch = batches.batches_per_epoch();
  const std::uint64_t at = static_cast<std::uint64_t>(batches.epoch()) * per_epoch +
                           (batches.offset() + config_.batch - 1) / config_.batch;
  if (step != at || step != static_cast<std::uint64_t>(optimizer_->steps()))
    throw ValueError(fmt::format("step {} does not match the data position (batch {}) or the optimizer's {} steps",
                                 step, at, optimizer_->steps()));
  *batches_ = std::move(batches);
  step_ = static_cast<std::int64_t>(step);
}

// ---- exported models -----------------------------------------------------------------------

void Trainer::export_model(const std::filesystem::path& path) const {
  std::map<std::string, std::string> meta{{"slope.preprocess", preprocess_text(prep_)},
                                          {"slope.dataset", train_.name},
                                          {"slope.inputs", std::to_string(train_.dim())},
                                          {"slope.classes", std::to_string(train_.num_classes())},
                                          {"slope.image", fmt::format("{}x{}x{}", train_.channels, train_.rows,
                                                                      train_.cols)}};
  // The config's model fields describe the model only when the config built it.
  if (custom_model_) meta["slope.custom_model"] = model_->type_name();
  else meta["slope.model"] = config_.model_text() + "loss=" + config_.loss + "\n";
  nn::save(*model_, path, meta);
}

void Trainer::export_npy(const std::filesystem::path& dir) const {
  for (const auto& [name, p] : model_->named_parameters())
    io::write_npy<float>(dir / (name + ".npy"), std::span(p.data(), p.size()), p.shape());
}

SavedModel load_model(const std::filesystem::path& path) {
  const io::TensorFile f = io::load_safetensors(path);
  return naming(path, [&] {
    const auto meta = [&](const std::string& key) -> const std::string& {
      const auto it = f.metadata.find(key);
      if (it == f.metadata.end())
        throw ValueError(fmt::format("no '{}' metadata: not a model written by slope train --export", key));
      return it->second;
    };
    if (const auto it = f.metadata.find("slope.custom_model"); it != f.metadata.end())
      throw ValueError(fmt::format("holds a custom model ({}): build it in code and read the weights with nn::load",
                                   it->second));
    SavedModel m;
    m.config = Config::from_text(meta("slope.model"));
    m.config.validate();
    m.dataset = meta("slope.dataset");
    const std::uint64_t inputs = parse_count(meta("slope.inputs"), "'slope.inputs'");
    const std::uint64_t classes = parse_count(meta("slope.classes"), "'slope.classes'");
    m.inputs = inputs;
    m.classes = classes;
    if (inputs == 0 || inputs > data::kMaxImageSide * data::kMaxImageSide * 3 || classes == 0 || classes > 1u << 20)
      throw ValueError(fmt::format("implausible sizes: {} inputs, {} classes", inputs, classes));
    std::uint64_t saved = 0;
    for (const auto& [name, a] : f.tensors) saved += numel(a.shape);
    const std::uint64_t want = entry(models(), m.config.model, "model").size(m.config, inputs, classes);
    if (want != saved)
      throw ValueError(fmt::format("the {} model of its metadata has {} parameters, the file {}", m.config.model,
                                   want, saved));
    // The examples' channels x rows x columns, where the file records them
    // (files of other writers may not): 784 inputs are not always 28 x 28.
    if (const auto it = f.metadata.find("slope.image"); it != f.metadata.end()) {
      std::uint64_t dims[3] = {0, 0, 0};
      std::size_t at = 0;
      const std::string& v = it->second;
      for (int k = 0; k < 3; ++k) {
        const auto end = k < 2 ? v.find('x', at) : v.size();
        dims[k] = parse_count(v.substr(at, end == std::string::npos ? std::string::npos : end - at), "'slope.image'");
        if (end == std::string::npos) throw ValueError(fmt::format("'slope.image' is not CxHxW: '{}'", v));
        at = end + 1;
      }
      if (dims[0] > 4 || dims[1] > data::kMaxImageSide || dims[2] > data::kMaxImageSide ||
          dims[0] * dims[1] * dims[2] != inputs)  // bounded factors: the product cannot wrap
        throw ValueError(fmt::format("'slope.image' {} does not hold the {} inputs", v, inputs));
      m.channels = dims[0], m.rows = dims[1], m.cols = dims[2];
    }
    Rng rng(0);
    m.model = make_model<float>(m.config, inputs, classes, rng);
    nn::load_state_dict(*m.model, f, "weights");
    nn::name_parameters(*m.model);
    m.preprocess = preprocess_from_text(meta("slope.preprocess"), inputs);
    return m;
  });
}

}  // namespace slope::train
