// slope train and slope eval.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "common.hpp"
#include "slope/io.hpp"
#include "slope/nn/state.hpp"
#include "slope/runtime.hpp"

namespace slope::cli {

namespace {

namespace fs = std::filesystem;

std::vector<OptionSpec> train_options() {
  auto specs = config_options();
  specs.push_back({"metrics", "FILE", "write one JSON line per epoch to FILE", ""});
  specs.push_back({"save", "FILE", "write a checkpoint after every epoch (atomically)", ""});
  specs.push_back({"resume", "FILE", "continue the run saved in FILE (its settings; --epochs may extend it)", ""});
  specs.push_back({"export", "PATH", "write the final model: FILE.safetensors (the state_dict) or a DIR of .npy files", ""});
  return specs;
}

// --export names a .safetensors file or a directory for .npy files.
bool exports_safetensors(const Args& args) {
  return args.has("export") && fs::path(args.get("export")).extension() == ".safetensors";
}

std::string epoch_json(const train::EpochStats& s) {
  return fmt::format(
      "{{\"epoch\": {}, \"data_loss\": {}, \"reg_loss\": {}, \"train_accuracy\": {}, "
      "\"val_accuracy\": {}, \"val_loss\": {}, \"lr\": {}, \"seconds\": {}, "
      "\"examples_per_second\": {}}}",
      s.epoch, json_number(s.data_loss), json_number(s.reg_loss), json_number(s.train_accuracy),
      json_number(s.val_accuracy), json_number(s.val_loss), json_number(s.lr),
      json_number(s.seconds), json_number(s.examples_per_second));
}

std::vector<std::string> parameter_names(const nn::Module<float>& model) {
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  return names;
}

// Options given next to --resume that the checkpoint's settings override.
std::vector<std::string> overridden_by_checkpoint(const Args& args) {
  std::vector<std::string> out;
  for (const auto& key : train::Config::keys()) {
    std::string opt = key;
    for (auto& ch : opt) ch = ch == '_' ? '-' : ch;
    if (args.has(opt) && key != "epochs") out.push_back("--" + opt);
  }
  return out;
}

}  // namespace

int train_command(int argc, char** argv) {
  const auto specs = train_options();
  Args args(argc, argv, 2, specs, "train");
  if (args.help()) {
    fmt::print("{}", usage("train", "Train a model and report train, validation and test accuracy.\n"
                                    "Defaults: the two-layer net on Fashion-MNIST, AdamW, warm-up + cosine.\n"
                                    "Models: " + entry_names(train::models()) + ".",
                           specs));
    return 0;
  }
  const double t0 = now_seconds();
  train::Config config = config_from(args);
  apply_threads(args);
  check_paths(args, {{"resume", PathKind::input_file},
                     {"save", PathKind::output_file},
                     {"metrics", PathKind::output_file},
                     {"export", exports_safetensors(args) ? PathKind::output_file : PathKind::output_dir}});
  if (args.has("resume")) {
    const auto ignored = overridden_by_checkpoint(args);
    if (!ignored.empty())
      throw UsageError(fmt::format("{} cannot change a resumed run (the checkpoint's settings win; only --epochs "
                                   "extends it)", fmt::join(ignored, ", ")));
  }

  // Under mpirun (once the command line is known to be good) every process
  // trains its share of each batch; rank 0 alone prints and writes files.
  dist::Communicator& comm = world();
  const bool root = comm.rank() == 0;
  if (!root && !std::freopen("/dev/null", "w", stdout))
    throw IoError(fmt::format("rank {}: cannot silence standard output", comm.rank()));
  const auto [train_set, test_set] = load_train_test(args);
  if (!args.has("val-size") && train_set.size() < 2 * config.val_size)
    config.val_size = train_set.size() / 5;  // small sets (spiral): a fifth for validation
  if (!args.has("resume")) check_val_size(config, train_set);
  std::unique_ptr<train::Trainer> trainer =
      args.has("resume")
          ? train::Trainer::resume(args.get("resume"), train_set, args.has("epochs") ? config.epochs : 0)
          : std::make_unique<train::Trainer>(config, train_set);
  if (comm.size() > 1) trainer->distribute(comm);
  const std::int64_t start_step = trainer->step();
  config = trainer->config();
  if (comm.size() > 1)
    fmt::print("slope train: {}, {} thread{} each, each computing 1/{} of every batch of {}\n", comm.describe(),
               num_threads(), num_threads() == 1 ? "" : "s", comm.size(), config.batch);
  if (args.has("export") && !exports_safetensors(args))
    check_export_files(args, "export", parameter_names(trainer->model()), {"resume", "save", "metrics"});
  fmt::print("slope train: {} ({} train / {} val / {} test), model {}, {} loss, {} lr {:.3g}, "
             "{} schedule, {} epochs of batch {}\n",
             train_set.name, trainer->split().train.size(), trainer->split().val.size(), test_set.size(),
             trainer->model().describe(), config.loss, config.optimizer, config.lr, config.schedule,
             config.epochs, config.batch);
  if (trainer->epochs_done() > 0)
    fmt::print("resumed from {} after epoch {} (step {})\n", args.get("resume"), trainer->epochs_done(),
               trainer->step());
  check_stdout();  // before the metrics file is opened (and emptied)
  std::unique_ptr<LineFile> metrics;
  if (args.has("metrics") && root) metrics = std::make_unique<LineFile>(args.get("metrics"));
  std::fflush(stdout);

  train::EpochStats last;
  Progress progress(stderr);
  while (!trainer->done()) {
    last = trainer->run_epoch([&](std::size_t i, std::size_t n, double loss) {
      if (root) progress.update(i, n, loss);
    });
    progress.clear();
    fmt::print("epoch {:>3}/{}  loss {:.4f} (data {:.4f} + reg {:.4f})  train {:.2f}%  val {:.2f}%  "
               "lr {:.2e}  {:.0f} ex/s  {:.1f}s\n",
               last.epoch, config.epochs, last.data_loss + last.reg_loss, last.data_loss, last.reg_loss,
               100 * last.train_accuracy, 100 * last.val_accuracy, last.lr, last.examples_per_second,
               last.seconds);
    check_stdout();  // a report that cannot be written stops the run
    if (metrics) metrics->write_line(epoch_json(last));
    if (args.has("save") && root) trainer->save(args.get("save"));
  }
  if (metrics) metrics->close();
  if (last.epoch == 0) {
    // No epoch ran (a resumed run that was already complete): the training
    // figures are unknown (null in the JSON); the validation ones can be measured.
    last.data_loss = last.reg_loss = last.train_accuracy = NAN;
    if (!trainer->split().val.empty()) {
      const train::Evaluation v = trainer->evaluate(train_set, trainer->split().val);
      last.val_accuracy = v.accuracy;
      last.val_loss = v.data_loss;
    }
  }
  if (trainer->split().val.empty()) last.val_accuracy = last.val_loss = NAN;  // no validation split
  const train::Evaluation test = trainer->evaluate(test_set);
  if (args.has("export") && root) {
    if (exports_safetensors(args)) trainer->export_model(args.get("export"));
    else trainer->export_npy(args.get("export"));
  }
  const double seconds = now_seconds() - t0;
  fmt::print("test accuracy {:.2f}% (loss {:.4f}) after {:.1f}s\n", 100 * test.accuracy, test.data_loss, seconds);
  if (comm.size() > 1)
    fmt::print("all-reduce: {:.2f} MB per process per step; {:.1f}% of rank 0's time in collectives\n",
               static_cast<double>(comm.reduced_bytes()) / 1e6 / static_cast<double>(std::max<std::int64_t>(
                   1, trainer->step() - start_step)),
               100.0 * comm.collective_seconds() / std::max(seconds, 1e-9));
  fmt::print("{{\"command\": \"train\", \"dataset\": {}, \"model\": {}, \"test_accuracy\": {}, \"test_loss\": {}, "
             "\"val_accuracy\": {}, \"train_accuracy\": {}, \"data_loss\": {}, \"reg_loss\": {}, "
             "\"epochs\": {}, \"steps\": {}, \"seconds\": {}, \"processes\": {}, \"threads\": {}, "
             "\"allreduce_bytes\": {}, \"collective_seconds\": {}, \"settings\": {}}}\n",
             json_string(train_set.name), json_string(trainer->model().describe()), json_number(test.accuracy),
             json_number(test.data_loss), json_number(last.val_accuracy), json_number(last.train_accuracy),
             json_number(last.data_loss), json_number(last.reg_loss), trainer->epochs_done(), trainer->step(),
             json_number(seconds), comm.size(), num_threads(), comm.reduced_bytes(),
             json_number(comm.collective_seconds()), json_config(config));
  return 0;
}

int eval_command(int argc, char** argv) {
  std::vector<OptionSpec> specs{
      {"checkpoint", "FILE", "a checkpoint written by slope train --save", ""},
      {"weights", "FILE", "a model written by slope train --export FILE.safetensors", ""},
      {"split", "NAME", "test, val (checkpoints only) or train", "test"},
      {"data", "NAME", "the data set the model was trained on", "fashion-mnist"},
      {"data-dir", "DIR", "directory of the data files", data::kFashionMnistDir},
      {"threads", "N", fmt::format("threads, 1 to {}", kMaxThreads), "all cores"},
      {"export", "PATH", "also write the model: FILE.safetensors or a DIR of .npy files", ""},
  };
  Args args(argc, argv, 2, specs, "eval");
  if (args.help()) {
    fmt::print("{}", usage("eval", "Evaluate a saved checkpoint or exported model on a data split.", specs));
    return 0;
  }
  if (args.has("checkpoint") == args.has("weights"))
    throw UsageError("give exactly one of --checkpoint and --weights");
  const std::string split = args.get("split", "test");
  if (split != "test" && split != "val" && split != "train")
    throw UsageError(fmt::format("--split: expected test, val or train, got '{}'", split));
  if (split == "val" && args.has("weights"))
    throw UsageError("--split val needs --checkpoint (an exported model does not record its validation split)");
  check_paths(args, {{"checkpoint", PathKind::input_file},
                     {"weights", PathKind::input_file},
                     {"export", exports_safetensors(args) ? PathKind::output_file : PathKind::output_dir}});
  apply_threads(args);
  train::Evaluation e;
  if (args.has("weights")) {
    train::SavedModel m = train::load_model(args.get("weights"));
    if (args.has("export") && !exports_safetensors(args))
      check_export_files(args, "export", parameter_names(*m.model), {"weights"});
    const data::Dataset d = load_data(args, split);
    if (m.dataset.rfind(args.get("data", "fashion-mnist"), 0) != 0)
      throw UsageError(fmt::format("--data: the model in '{}' was trained on {}", args.get("weights"), m.dataset));
    if (d.dim() != m.inputs || d.num_classes() != m.classes)
      throw UsageError(fmt::format("--data: {} has {} values per example and {} classes, the model takes {} and {}",
                                   d.name, d.dim(), d.num_classes(), m.inputs, m.classes));
    if (m.rows && (d.channels != m.channels || d.rows != m.rows || d.cols != m.cols))
      throw UsageError(fmt::format("--data: {} holds {}x{}x{} examples, the model in '{}' was trained on {}x{}x{}",
                                   d.name, d.channels, d.rows, d.cols, args.get("weights"), m.channels, m.rows,
                                   m.cols));
    e = train::evaluate(*m.model, d, m.preprocess, [&](const Tensor& s, std::span<const std::int32_t> y) {
      return train::data_loss(m.config.loss, s, y);
    });
    if (args.has("export")) {
      if (exports_safetensors(args)) nn::save(*m.model, args.get("export"));
      else
        for (const auto& [name, p] : m.model->named_parameters())
          io::write_npy<float>(fs::path(args.get("export")) / (name + ".npy"), std::span(p.data(), p.size()), p.shape());
    }
  } else {
    // The test split is read beside the training split and must hold examples of its shape.
    const auto [train_set, test_set] = split == "test" ? load_train_test(args)
                                                       : std::pair{load_data(args, "train"), data::Dataset{}};
    const auto trainer = train::Trainer::resume(args.get("checkpoint"), train_set);
    if (args.has("export") && !exports_safetensors(args))
      check_export_files(args, "export", parameter_names(trainer->model()), {"checkpoint"});
    if (split == "test") {
      e = trainer->evaluate(test_set);
    } else {
      // An empty index list means "everything" to evaluate(): refuse it here.
      if (split == "val" && trainer->split().val.empty())
        throw UsageError(fmt::format("--split val: the run in '{}' has no validation split (val_size 0)",
                                     args.get("checkpoint")));
      e = trainer->evaluate(train_set, split == "val" ? trainer->split().val : trainer->split().train);
    }
    if (args.has("export")) {
      if (exports_safetensors(args)) trainer->export_model(args.get("export"));
      else trainer->export_npy(args.get("export"));
    }
  }
  fmt::print("{} accuracy {:.2f}% (loss {:.4f})\n", split, 100 * e.accuracy, e.data_loss);
  fmt::print("{{\"command\": \"eval\", \"split\": {}, \"accuracy\": {}, \"loss\": {}}}\n", json_string(split),
             json_number(e.accuracy), json_number(e.data_loss));
  return 0;
}

}  // namespace slope::cli
