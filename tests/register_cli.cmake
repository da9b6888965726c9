# The slope program (src/cli): one CTest per case of tests/cli/run_cli_checks.sh,
# which checks exit codes and messages. Every case runs on the spiral, so no
# data files are needed.
if(TARGET slope_cli)
  find_program(SLOPE_BASH bash)
  set(SLOPE_CLI_CHECKS ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_cli_checks.sh)

  # slope_cli_case(<title> <case> [arg]): registers "cli: <title>".
  function(slope_cli_case title case_name)
    add_test(NAME "cli: ${title}"
      COMMAND ${SLOPE_BASH} ${SLOPE_CLI_CHECKS} $<TARGET_FILE:slope_cli> ${case_name} ${ARGN})
    set_tests_properties("cli: ${title}" PROPERTIES
      TIMEOUT 120 LABELS cli FAIL_REGULAR_EXPRESSION "FAIL \\[")
  endfunction()

  slope_cli_case("slope --help lists every command and exits 0" help)
  foreach(cmd train eval search knn gradcheck)
    slope_cli_case("slope ${cmd} --help prints its options and exits 0" help ${cmd})
  endforeach()
  slope_cli_case("no command or an unknown command exits 2" no_command)
  slope_cli_case("an unknown option or a missing value exits 2 naming it" unknown_option)
  slope_cli_case("a negative or non-numeric --lr exits 2 naming lr" bad_lr)
  slope_cli_case("--batch 0 exits 2 naming batch" bad_batch)
  slope_cli_case("--optimizer foo exits 2 naming optimizer and foo" bad_optimizer)
  slope_cli_case("--hidden 0 exits 2 naming hidden" bad_hidden)
  slope_cli_case("other bad values (model, loss, threads, val-size, ...) exit 2 naming the option" bad_other_values)
  slope_cli_case("a missing --data-dir exits 2 naming the directory" missing_data_dir)
  slope_cli_case("unwritable --save, --metrics, --export and a missing --resume exit 2 and write nothing" unwritable_outputs)
  slope_cli_case("train on the spiral exits 0 and ends with a JSON summary holding test_accuracy" train_spiral)
  slope_cli_case("train on the spiral: two-layer above 90% and linear below 65% test accuracy" train_spiral_learns)
  slope_cli_case("--metrics writes one JSON line per epoch" metrics)
  slope_cli_case("--save, eval --checkpoint and --resume continue bitwise like a straight run" save_eval_resume)
  slope_cli_case("resuming a finished run trains nothing; eval --split val needs a validation split" resume_finished)
  slope_cli_case("eval without or with a bad checkpoint exits 2 or 1 naming it" eval_errors)
  slope_cli_case("--export writes layers.0.W.npy ... as NumPy files" export)
  slope_cli_case("train trains the linear, mlp (each activation, per-layer dropout) and residual models" models)
  slope_cli_case("bad --activation, --dropout, --blocks and --model values exit 2 naming the option" bad_model_options)
  slope_cli_case("--export FILE.safetensors then eval --weights gives train's test accuracy" export_weights)
  slope_cli_case("eval --weights with a file that is not a slope model exits 1 naming it" eval_weights_errors)
  slope_cli_case("gradcheck on the spiral prints gradcheck ok for softmax and svm" gradcheck)
  slope_cli_case("knn on the spiral chooses k on validation and scores the test set" knn)
  slope_cli_case("search on the spiral prints a table and the best setting" search)
  slope_cli_case("a diverging run exits 1 naming the step" diverging)

  # tests/cli/run_input_checks.sh: inputs refused or reported in slope's own words.
  function(slope_input_case title case_name)
    add_test(NAME "cli: ${title}"
      COMMAND ${SLOPE_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_input_checks.sh $<TARGET_FILE:slope_cli> ${case_name})
    set_tests_properties("cli: ${title}" PROPERTIES
      TIMEOUT 120 LABELS cli FAIL_REGULAR_EXPRESSION "FAIL \\[")
  endfunction()
  slope_input_case("options the checkpoint would override are refused with --resume; --epochs extends the run" resume_overrides)
  slope_input_case("test images of the same pixel count but other rows and columns exit 2 (train, eval --checkpoint, eval --weights)" geometry)
  slope_input_case("search exits 1 and prints no best setting when every trial diverged" search_diverged)
  slope_input_case("empty, over-long and unusable paths and numbers exit 2 naming the option, never with raw C++ text" path_names)
endif()
