// Training checkpoints whose container is sound (the CRC matches) but whose
// contents are wrong: each case loads a valid checkpoint through
// io::Checkpoint, changes one thing, saves it (a fresh, valid CRC) and expects
// Trainer::resume to throw an IoError naming the file and the problem, never
// to crash or to resume a run that is not the one saved.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "slope/io.hpp"
#include "slope/train.hpp"

using namespace slope;
using namespace slope::testing;

namespace {

const bool single_thread = use_one_blas_thread();

const data::Dataset& spiral_train() {
  static const data::Dataset d = train::load_dataset("spiral", "", "train");
  return d;
}

// The two-layer net 2-16-3 with dropout (parameters layers.0.W, layers.0.b,
// layers.2.W, layers.2.b: 99 values), AdamW (buffers m and v), 720 training
// points in batches of 64: 12 steps per epoch.
train::Config config() {
  train::Config c;
  c.hidden = {16};
  c.epochs = 3;
  c.batch = 64;
  c.val_size = 180;
  c.seed = 2;
  return c;
}

// A valid checkpoint after one epoch, written once.
const fs::path& valid_checkpoint() {
  static TempDir dir("ckpt_content_base");
  static const fs::path path = [] {
    const fs::path p = dir / "good.ckpt";
    train::Trainer t(config(), spiral_train());
    t.run_epoch();
    t.save(p);
    return p;
  }();
  return path;
}

using Edit = std::function<void(io::Checkpoint&)>;

struct Case {
  std::string what;
  Edit edit;
  std::string phrase;  // what the error must say, after the file's name
};

// One entry of the stored config text replaced (or added, or removed).
Edit config_line(const std::string& key, const std::string& line) {
  return [=](io::Checkpoint& ck) {
    std::stringstream in(ck.meta("config"));
    std::string out;
    bool found = false;
    for (std::string l; std::getline(in, l);) {
      if (l.rfind(key + "=", 0) == 0) {
        found = true;
        if (!line.empty()) out += line + "\n";
      } else {
        out += l + "\n";
      }
    }
    if (!found) out += line + "\n";
    ck.set_meta("config", out);
  };
}

Edit meta(const std::string& key, const std::string& value) {
  return [=](io::Checkpoint& ck) { ck.set_meta(key, value); };
}

// Rebuilds the checkpoint without the named array or metadata entry (the
// container has no erase: copy everything else).
Edit without(const std::string& name) {
  return [=](io::Checkpoint& ck) {
    io::Checkpoint out;
    for (const auto& [k, a] : ck.arrays())
      if (k != name) out.put(k, a);
    for (const auto& [k, v] : ck.metadata())
      if (k != name) out.set_meta(k, v);
    ck = out;
  };
}

// Array `name` as doubles, changed by `f`, written back in the dtype it had.
Edit values(const std::string& name, const std::function<void(std::vector<double>&)>& f) {
  return [=](io::Checkpoint& ck) {
    const io::Array a = ck.array(name);
    std::vector<double> v;
    if (a.dtype == io::DType::f32) {
      for (float x : a.to_vector<float>()) v.push_back(x);
      f(v);
      const std::vector<float> back(v.begin(), v.end());
      ck.put<float>(name, back, a.shape);
    } else if (a.dtype == io::DType::i64) {
      for (std::int64_t x : a.to_vector<std::int64_t>()) v.push_back(static_cast<double>(x));
      f(v);
      const std::vector<std::int64_t> back(v.begin(), v.end());
      ck.put<std::int64_t>(name, back, a.shape);
    } else {
      v = a.to_vector<double>();
      f(v);
      ck.put<double>(name, v, a.shape);
    }
  };
}

// Array `name` with its values converted to another dtype.
Edit as_dtype(const std::string& name, io::DType to) {
  return [=](io::Checkpoint& ck) {
    const io::Array a = ck.array(name);
    std::vector<double> v;
    if (a.dtype == io::DType::f32) for (float x : a.to_vector<float>()) v.push_back(x);
    else if (a.dtype == io::DType::f64) v = a.to_vector<double>();
    else for (std::int64_t x : a.to_vector<std::int64_t>()) v.push_back(static_cast<double>(x));
    if (to == io::DType::f32) ck.put<float>(name, std::vector<float>(v.begin(), v.end()), a.shape);
    else if (to == io::DType::f64) ck.put<double>(name, v, a.shape);
    else ck.put<std::int32_t>(name, std::vector<std::int32_t>(v.begin(), v.end()), a.shape);
  };
}

Edit put_f64(const std::string& name, Shape shape) {
  return [=](io::Checkpoint& ck) { ck.put<double>(name, std::vector<double>(numel(shape), 0.25), shape); };
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

std::vector<Case> corpus() {
  return {
      // Arrays the run never writes, or writes otherwise.
      {"an unknown array", put_f64("junk", {2}), "unexpected array 'junk'"},
      {"an optimizer entry without a buffer name", put_f64("optim/x", {2}), "malformed optimizer entry 'optim/x'"},
      {"an optimizer buffer for an unknown parameter", put_f64("optim/layers.9.W/m", {2, 16}),
       "the state has buffers for 'layers.9.W', which is not one of this optimizer's parameters"},
      {"an optimizer buffer the optimizer does not keep", put_f64("optim/layers.0.W/momentum_buffer", {2, 16}),
       "unexpected buffer 'momentum_buffer' of 'layers.0.W'"},
      {"a buffer of the wrong shape", put_f64("optim/layers.0.W/m", {16, 2}),
       "buffer 'm' of 'layers.0.W' is (16, 2), the parameter is (2, 16)"},
      {"a buffer given for some parameters only", without("optim/layers.2.b/v"),
       "buffer 'v' is given for 3 of the 4 parameters (all or none)"},
      // Values.
      {"a NaN weight", values("model/layers.2.W", [](auto& v) { v[4] = kNaN; }), "'layers.2.W' holds NaN at entry 4"},
      {"an Inf buffer", values("optim/layers.0.b/v", [](auto& v) { v[0] = kInf; }),
       "buffer 'v' of 'layers.0.b' holds Inf"},
      // Dtypes.
      {"a weight stored as f64", as_dtype("model/layers.0.b", io::DType::f64), "'model/layers.0.b' is f64, not f32"},
      {"a buffer stored as f32", as_dtype("optim/layers.0.b/m", io::DType::f32), "'optim/layers.0.b/m' is f32, not f64"},
      {"the data order stored as i32", as_dtype("batches/order", io::DType::i32),
       "array 'batches/order' holds i32, expected i64"},
      // Scalars.
      {"an unparsable learning rate", meta("optim/scalar/lr", "abc"), "'optim/scalar/lr' is not a finite number: 'abc'"},
      {"a learning rate that overflows", meta("optim/scalar/lr", "1e999"),
       "'optim/scalar/lr' is not a finite number: '1e999'"},
      {"a hex learning rate that overflows", meta("optim/scalar/lr", "0x1p+99999"), "is not a finite number"},
      {"a negative learning rate", meta("optim/scalar/lr", "-0x1p-8"), "lr must be >= 0: got -0.00390625"},
      {"a learning rate with two signs", meta("optim/scalar/lr", "-0x-1p-8"), "is not a finite number: '-0x-1p-8'"},
      {"a fractional optimizer step", meta("optim/scalar/step", "0x1.5p+3"), "step must be a count: got 10.5"},
      {"an optimizer step that disagrees", meta("optim/scalar/step", "0x1.6p+3"),
       "step 12 does not match the data position (batch 12) or the optimizer's 11 steps"},
      {"a step that does not match the data position", meta("step", "7"),
       "step 7 does not match the data position (batch 12)"},
      {"a step that is not a count", meta("step", "12.0"), "'step' is not a count: '12.0'"},
      {"a data offset past the data", meta("batches/offset", "721"), "offset 721 is past the 720 examples"},
      // 2^62 epochs of 12 steps wrap around to step 0 in 64 bits: consistent
      // with a step of 0 unless the epoch itself is checked.
      {"an epoch past the run's end whose step wraps around to 0",
       [](io::Checkpoint& ck) {
         ck.set_meta("batches/epoch", "4611686018427387904");
         ck.set_meta("batches/offset", "0");
         ck.set_meta("step", "0");
         ck.set_meta("optim/scalar/step", "0x0p+0");
       },
       "epoch 4611686018427387904 is past the run's 3 epochs"},
      {"a data order that is not a permutation", values("batches/order", [](auto& v) { v[1] = v[0]; }),
       "order is not a permutation"},
      {"a negative index in the data order", values("batches/order", [](auto& v) { v[3] = -1; }),
       "'batches/order' holds -1"},
      {"a malformed generator state", meta("batches/rng", "not a state"), "malformed state text"},
      // The config.
      {"a config that does not validate", config_line("lr", "lr=-1"), "lr must be finite and >= 0: got -1"},
      {"a config with an unknown key", config_line("bogus", "bogus=1"), "unknown setting 'bogus'"},
      {"a config line without '='", config_line("batch", "batch 64"), "config line without '='"},
      {"a config giving a model of another size", config_line("hidden", "hidden=32"),
       "the configured two-layer model has 195 parameters, the checkpoint 99"},
      {"a config giving a linear model", config_line("model", "model=linear"),
       "the configured linear model has 9 parameters, the checkpoint 99"},
      {"a config giving a model of other names", config_line("activation", "activation=tanh"),
       "missing layers.0.0.W, layers.0.0.b; unexpected layers.0.W, layers.0.b"},
      {"a config of another optimizer", config_line("optimizer", "optimizer=adam"),
       "load_state: the state is of a AdamW optimizer"},
      // Missing entries.
      {"a missing preprocessing entry", without("preprocess"), "no 'preprocess' entry"},
      {"a missing step", without("step"), "no 'step' entry"},
      {"a missing weight", without("model/layers.0.b"), "has 99 parameters, the checkpoint 83"},
      {"a missing data order", without("batches/order"), "no array 'batches/order'"},
      {"a missing generator state", without("batches/rng"), "no metadata 'batches/rng'"},
      {"a missing learning rate", without("optim/scalar/lr"), "state has no scalar 'lr'"},
      {"a missing version", without("version"), "no 'version' entry"},
      // Preprocessing and identity.
      {"preprocessing that does not match the data", meta("preprocess", "{\"scale\": 1, \"mean\": [0.5, 0.25]}"),
       "their preprocessing does not match"},
      {"preprocessing for other data", meta("preprocess", "{\"scale\": 1, \"mean\": [0.5]}"),
       "1 means for examples of 2 values"},
      {"malformed preprocessing", meta("preprocess", "scale=1"), "preprocess: malformed text"},
      {"an unexpected metadata entry", meta("note", "hello"), "unexpected entry 'note'"},
      {"another format version", meta("version", "1"), "checkpoint version 1 (this build reads 2)"},
      {"another kind of file", meta("kind", "slope-model"), "not a slope training checkpoint"},
      {"another optimizer kind", meta("optim/kind", "Adam"), "AdamW: load_state: the state is of a Adam optimizer"},
      {"another data set", meta("dataset", "fashion-mnist/train"),
       "saved on fashion-mnist/train, cannot resume on spiral"},
  };
}

}  // namespace

TEST_CASE("An unchanged checkpoint re-saved through io::Checkpoint resumes", "[checkpoint][content]") {
  TempDir dir("ckpt_content_control");
  const fs::path p = dir / "same.ckpt";
  io::Checkpoint::load(valid_checkpoint()).save(p);
  const auto t = train::Trainer::resume(p, spiral_train());
  CHECK(t->step() == 12);
  CHECK(t->epochs_done() == 1);
}

TEST_CASE("Checkpoints with a valid CRC but wrong contents are IoErrors naming the file and the problem",
          "[checkpoint][content]") {
  TempDir dir("ckpt_content");
  const auto cases = corpus();
  REQUIRE(cases.size() >= 12);
  std::size_t i = 0;
  for (const Case& c : cases) {
    INFO("case " << i << ": " << c.what);
    io::Checkpoint ck = io::Checkpoint::load(valid_checkpoint());
    c.edit(ck);
    const fs::path p = dir / ("case" + std::to_string(i++) + ".ckpt");
    ck.save(p);
    REQUIRE_NOTHROW(io::Checkpoint::load(p));  // the container itself is sound
    try {
      train::Trainer::resume(p, spiral_train());
      FAIL("resumed; expected an IoError mentioning '" << c.phrase << "'");
    } catch (const IoError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.rfind(p.string() + ": ", 0) == 0);
      CHECK(m.find(c.phrase) != std::string::npos);
    }
  }
}
