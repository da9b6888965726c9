// The committed checkpoint corpora of tests/fuzz as fixtures: the on-disk
// format read from files slope's own writer did not produce.
//
//   corpus/checkpoint  containers written by tests/fuzz/make_corpus.py (Python's
//                      struct and zlib, no slope code): the valid ones load with
//                      exactly the contents the script wrote, the bad ones fail
//                      with the defect named.
//   corpus/resume      training checkpoints: valid_* written by `slope train
//                      --data spiral ... --save`, and bad_* crafted from one of
//                      them by make_corpus.py, each with a valid CRC and one wrong
//                      content (an index out of range or huge, a wrong count, a
//                      non-finite value, an unparsable scalar). The valid ones
//                      resume and train on; each bad one is an IoError naming
//                      the file and the problem.
#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "slope/io.hpp"
#include "slope/train.hpp"

using namespace slope;
using namespace slope::testing;

namespace {

const bool single_thread = use_one_blas_thread();

const fs::path kCorpus = fs::path(SLOPE_SOURCE_DIR) / "tests" / "fuzz" / "corpus";

const data::Dataset& spiral_train() {
  static const data::Dataset d = train::load_dataset("spiral", "", "train");
  return d;
}

// The names of the files in `dir` that start with `prefix`.
std::set<std::string> files(const fs::path& dir, const std::string& prefix) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("The container seeds written by make_corpus.py load with exactly the contents it wrote", "[corpus]") {
  const fs::path dir = kCorpus / "checkpoint";
  const io::Checkpoint mixed = io::Checkpoint::load(dir / "valid_mixed");
  CHECK(mixed.metadata() == std::map<std::string, std::string>{{"epoch", "3"}, {"optimizer", "adam"}});
  REQUIRE(mixed.arrays().size() == 5);
  CHECK(mixed.array("W").dtype == io::DType::f32);
  CHECK(mixed.array("W").shape == Shape{2, 2});
  CHECK(mixed.array("W").to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  CHECK(mixed.array("b").dtype == io::DType::f64);
  CHECK(mixed.array("b").to_vector<double>() == std::vector<double>{0.5, -0.5});
  CHECK(mixed.array("order").dtype == io::DType::i64);
  CHECK(mixed.array("order").to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 0, 1});
  CHECK(mixed.array("step").shape == Shape{});
  CHECK(mixed.array("step").to_vector<std::int32_t>() == std::vector<std::int32_t>{7});
  CHECK(mixed.array("mask").dtype == io::DType::u8);
  CHECK(mixed.array("mask").shape == Shape{0});
  CHECK(mixed.array("mask").bytes.empty());
  // The writer's bytes for the same contents are the script's, byte for byte.
  CHECK(mixed.serialize() == slurp(dir / "valid_mixed"));

  const io::Checkpoint empty = io::Checkpoint::load(dir / "valid_empty");
  CHECK(empty.metadata().empty());
  CHECK(empty.arrays().empty());
  const io::Checkpoint meta = io::Checkpoint::load(dir / "valid_meta_only");
  CHECK(meta.metadata() == std::map<std::string, std::string>{{"k", "v"}});
  CHECK(meta.arrays().empty());
  CHECK(files(dir, "valid_") == std::set<std::string>{"valid_empty", "valid_meta_only", "valid_mixed"});
}

TEST_CASE("The corrupt container seeds are IoErrors naming the file and the defect", "[corpus]") {
  const fs::path dir = kCorpus / "checkpoint";
  const std::map<std::string, std::string> want = {
      {"bad_crc", "checksum mismatch"},
      {"bad_dtype", "unknown dtype code 9"},
      {"bad_rank", "rank 9, over the cap of 8"},
      {"bad_truncated", "truncated: header promises 188 payload bytes, file holds 185"},
      {"bad_version", "format version 2, this build reads version 1"},
  };
  std::set<std::string> listed;
  for (const auto& [name, phrase] : want) {
    INFO(name);
    listed.insert(name);
    require_io_error([&] { io::Checkpoint::load(dir / name); }, dir / name, phrase);
  }
  CHECK(files(dir, "bad_") == listed);  // every committed seed is checked here
}

TEST_CASE("The training checkpoints slope wrote resume and train on", "[corpus][resume]") {
  const fs::path dir = kCorpus / "resume";
  struct Seed {
    std::string model, optimizer;
    std::size_t parameters;
  };
  const std::map<std::string, Seed> seeds = {
      {"valid_two_layer_adamw", {"two-layer", "AdamW", 2 * 4 + 4 + 4 * 3 + 3}},
      {"valid_linear_momentum", {"linear", "SGD", 2 * 3 + 3}},
      {"valid_mlp_adam", {"mlp", "Adam", 2 * 3 + 3 + 3 * 3 + 3 + 3 * 3 + 3}},
  };
  std::set<std::string> listed;
  for (const auto& [name, seed] : seeds) {
    INFO(name);
    listed.insert(name);
    // One epoch of one was saved: 3 steps of 256 of the 720 training points.
    const auto t = train::Trainer::resume(dir / name, spiral_train(), 2);
    CHECK(t->config().model == seed.model);
    CHECK_FALSE(t->config().center);
    CHECK(t->epochs_done() == 1);
    CHECK(t->step() == 3);
    std::size_t n = 0;
    for (const auto& p : t->model().parameters()) n += p.size();
    CHECK(n == seed.parameters);
    CHECK(t->optimizer().name() == seed.optimizer);
    const train::EpochStats s = t->run_epoch();
    CHECK(s.epoch == 2);
    CHECK(t->step() == 6);
    CHECK(std::isfinite(s.data_loss));
  }
  CHECK(files(dir, "valid_") == listed);
}

TEST_CASE("Crafted training checkpoints with a valid CRC are IoErrors naming the file and the problem",
          "[corpus][resume]") {
  const fs::path dir = kCorpus / "resume";
  const std::map<std::string, std::string> want = {
      // Indices and names out of range, huge or negative.
      {"bad_param_name_huge_index", "the state has buffers for 'layers.18446744073709551615.W', which is not one"},
      {"bad_model_name_huge_index", "missing layers.0.W; unexpected layers.18446744073709551615.W"},
      {"bad_order_index_out_of_range", "order is not a permutation"},
      {"bad_order_index_huge", "order is not a permutation"},
      {"bad_order_index_negative", "'batches/order' holds -1"},
      {"bad_offset_huge", "offset 18446744073709551615 is past the 720 examples"},
      {"bad_step_huge", "step 18446744073709551615 does not match the data position (batch 3)"},
      {"bad_step_over_64_bits", "'step' is not a count: '18446744073709551616'"},
      {"bad_epoch_wraps_to_step", "epoch 6148914691236517206 is past the run's 1 epochs"},
      // Counts.
      {"bad_order_count", "order has 719 entries, the iterator 720"},
      {"bad_weight_count", "has 27 parameters, the checkpoint 28"},
      {"bad_buffer_missing", "buffer 'v' is given for 3 of the 4 parameters"},
      {"bad_weight_shape", "'layers.0.W' has shape (4, 2) in the file, the model's is (2, 4)"},
      // Non-finite values.
      {"bad_weight_nan", "'layers.2.W' holds NaN at entry 4"},
      {"bad_weight_inf", "'layers.0.b' holds Inf at entry 0"},
      {"bad_buffer_inf", "buffer 'v' of 'layers.0.b' holds Inf"},
      // Scalars and texts.
      {"bad_lr_text", "'optim/scalar/lr' is not a finite number: 'abc'"},
      {"bad_lr_overflow", "'optim/scalar/lr' is not a finite number: '1e999'"},
      {"bad_lr_negative", "lr must be >= 0: got -0.00390625"},
      {"bad_optimizer_step_fraction", "step must be a count: got 2.625"},
      {"bad_config_lr_inf", "lr: expected a finite number, got 'inf'"},
      {"bad_config_hidden_huge", "hidden must be sizes in [1, 1048576]: got 18446744073709551615"},
      {"bad_config_epochs_over_64_bits", "epochs: expected an integer that fits in 64 bits"},
      {"bad_rng_state", "malformed state text"},
      {"bad_preprocess_nan", "preprocess: malformed text"},
      {"bad_kind", "not a slope training checkpoint"},
      {"bad_missing_step", "no 'step' entry"},
  };
  std::set<std::string> listed;
  for (const auto& [name, phrase] : want) {
    INFO(name);
    listed.insert(name);
    REQUIRE_NOTHROW(io::Checkpoint::load(dir / name));  // the container is sound
    try {
      train::Trainer::resume(dir / name, spiral_train());
      FAIL("resumed; expected an IoError mentioning '" << phrase << "'");
    } catch (const IoError& e) {
      const std::string m = e.what();
      INFO(m);
      CHECK(m.rfind((dir / name).string() + ": ", 0) == 0);
      CHECK(m.find(phrase) != std::string::npos);
    }
  }
  CHECK(files(dir, "bad_") == listed);
}
