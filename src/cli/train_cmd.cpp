// slope train and slope eval.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "slope/io.hpp"

namespace slope::cli {

namespace {

std::vector<OptionSpec> train_options() {
  auto specs = config_options();
  specs.push_back({"metrics", "FILE", "write one JSON line per epoch to FILE", ""});
  specs.push_back({"save", "FILE", "write a checkpoint after every epoch (atomically)", ""});
  specs.push_back({"resume", "FILE", "continue the run saved in FILE (its settings win)", ""});
  specs.push_back({"export", "DIR", "write the final weights as .npy files into DIR", ""});
  return specs;
}

void export_weights(const nn::MLP<float>& model, const std::string& dir) {
  for (const auto& p : model.parameters())
    io::write_npy<float>(std::filesystem::path(dir) / (p.name() + ".npy"),
                         std::span(p.data(), p.size()), p.shape());
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

}  // namespace

int train_command(int argc, char** argv) {
  const auto specs = train_options();
  Args args(argc, argv, 2, specs, "train");
  if (args.help()) {
    fmt::print("{}", usage("train", "Train a classifier and report train, validation and test accuracy.\n"
                                    "Defaults: the two-layer net on Fashion-MNIST, AdamW, warm-up + cosine.",
                           specs));
    return 0;
  }
  const double t0 = now_seconds();
  train::Config config = config_from(args);
  apply_threads(args);
  for (const char* opt : {"metrics", "save"})
    if (args.has(opt)) check_writable(opt, args.get(opt));
  if (args.has("export") && !std::filesystem::is_directory(args.get("export")))
    throw UsageError(fmt::format("--export: '{}' is not a directory", args.get("export")));
  if (args.has("resume") && !std::filesystem::exists(args.get("resume")))
    throw UsageError(fmt::format("--resume: '{}' does not exist", args.get("resume")));

  const auto [train_set, test_set] = load_train_test(args);
  if (!args.has("val-size") && train_set.size() < 2 * config.val_size)
    config.val_size = train_set.size() / 5;  // small sets (spiral): a fifth for validation
  if (!args.has("resume")) check_val_size(config, train_set);
  std::unique_ptr<train::Trainer> trainer =
      args.has("resume")
          ? train::Trainer::resume(args.get("resume"), train_set,
                                   args.has("epochs") ? config.epochs : 0)
          : std::make_unique<train::Trainer>(config, train_set);
  config = trainer->config();
  const auto sizes = trainer->model().sizes();
  fmt::print("slope train: {} ({} train / {} val / {} test), model {} ({}), {} loss, {} lr {:.3g}, "
             "{} schedule, {} epochs of batch {}\n",
             train_set.name, trainer->split().train.size(), trainer->split().val.size(),
             test_set.size(), config.model, fmt::join(sizes, "-"), config.loss, config.optimizer,
             config.lr, config.schedule, config.epochs, config.batch);
  if (trainer->epochs_done() > 0)
    fmt::print("resumed from {} after epoch {} (step {})\n", args.get("resume"),
               trainer->epochs_done(), trainer->step());
  std::ofstream metrics;
  if (args.has("metrics")) {
    metrics.open(args.get("metrics"), std::ios::trunc);
    if (!metrics) throw IoError(fmt::format("{}: cannot open for writing", args.get("metrics")));
  }
  std::fflush(stdout);

  train::EpochStats last;
  Progress progress(stderr);
  while (!trainer->done()) {
    last = trainer->run_epoch([&](std::size_t i, std::size_t n, double loss) { progress.update(i, n, loss); });
    progress.clear();
    fmt::print("epoch {:>3}/{}  loss {:.4f} (data {:.4f} + reg {:.4f})  train {:.2f}%  val {:.2f}%  "
               "lr {:.2e}  {:.0f} ex/s  {:.1f}s\n",
               last.epoch, config.epochs, last.data_loss + last.reg_loss, last.data_loss,
               last.reg_loss, 100 * last.train_accuracy, 100 * last.val_accuracy, last.lr,
               last.examples_per_second, last.seconds);
    std::fflush(stdout);
    if (metrics) metrics << epoch_json(last) << '\n' << std::flush;
    if (args.has("save")) trainer->save(args.get("save"));
  }
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
  if (args.has("export")) export_weights(trainer->model(), args.get("export"));
  const double seconds = now_seconds() - t0;
  fmt::print("test accuracy {:.2f}% (loss {:.4f}) after {:.1f}s\n", 100 * test.accuracy, test.data_loss, seconds);
  fmt::print("{{\"command\": \"train\", \"dataset\": {}, \"test_accuracy\": {}, \"test_loss\": {}, "
             "\"val_accuracy\": {}, \"train_accuracy\": {}, \"data_loss\": {}, \"reg_loss\": {}, "
             "\"epochs\": {}, \"steps\": {}, \"seconds\": {}, \"settings\": {}}}\n",
             json_string(train_set.name), json_number(test.accuracy), json_number(test.data_loss),
             json_number(last.val_accuracy), json_number(last.train_accuracy),
             json_number(last.data_loss), json_number(last.reg_loss), trainer->epochs_done(),
             trainer->step(), json_number(seconds), json_config(config));
  return 0;
}

int eval_command(int argc, char** argv) {
  std::vector<OptionSpec> specs{
      {"checkpoint", "FILE", "a checkpoint written by slope train --save", ""},
      {"split", "NAME", "test, val or train", "test"},
      {"data", "NAME", "the data set the checkpoint was trained on", "fashion-mnist"},
      {"data-dir", "DIR", "directory of the data files", data::kFashionMnistDir},
      {"threads", "N", "BLAS threads", "all cores"},
      {"export", "DIR", "also write the weights as .npy files into DIR", ""},
  };
  Args args(argc, argv, 2, specs, "eval");
  if (args.help()) {
    fmt::print("{}", usage("eval", "Evaluate a saved checkpoint on a data split.", specs));
    return 0;
  }
  if (!args.has("checkpoint")) throw UsageError("--checkpoint is required");
  if (!std::filesystem::exists(args.get("checkpoint")))
    throw UsageError(fmt::format("--checkpoint: '{}' does not exist", args.get("checkpoint")));
  const std::string split = args.get("split", "test");
  if (split != "test" && split != "val" && split != "train")
    throw UsageError(fmt::format("--split: expected test, val or train, got '{}'", split));
  if (args.has("export") && !std::filesystem::is_directory(args.get("export")))
    throw UsageError(fmt::format("--export: '{}' is not a directory", args.get("export")));
  apply_threads(args);
  const data::Dataset train_set = load_data(args, "train");
  const auto trainer = train::Trainer::resume(args.get("checkpoint"), train_set);
  train::Evaluation e;
  if (split == "test") e = trainer->evaluate(load_data(args, "test"));
  else {
    // An empty index list means "everything" to evaluate(): refuse it here.
    if (split == "val" && trainer->split().val.empty())
      throw UsageError(fmt::format("--split val: the run in '{}' has no validation split (val_size 0)",
                                   args.get("checkpoint")));
    e = trainer->evaluate(train_set, split == "val" ? trainer->split().val : trainer->split().train);
  }
  if (args.has("export")) export_weights(trainer->model(), args.get("export"));
  fmt::print("{} accuracy {:.2f}% (loss {:.4f})\n", split, 100 * e.accuracy, e.data_loss);
  fmt::print("{{\"command\": \"eval\", \"split\": {}, \"accuracy\": {}, \"loss\": {}}}\n",
             json_string(split), json_number(e.accuracy), json_number(e.data_loss));
  return 0;
}

}  // namespace slope::cli
