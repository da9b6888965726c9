// The subcommands of the slope program; each returns the exit status.
#pragma once

namespace slope::cli {

int train_command(int argc, char** argv);
int eval_command(int argc, char** argv);
int search_command(int argc, char** argv);
int knn_command(int argc, char** argv);
int gradcheck_command(int argc, char** argv);
int plot_command(int argc, char** argv);

}  // namespace slope::cli
