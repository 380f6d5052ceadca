//===- Trainer.h - the trainer's command line and training loop --*- C++ -*-===//
//
// Part of kiln. `trainerMain` is the whole `./trainer` program for a compiled
// model: the train, eval, predict and steps commands (docs/trainer.md), the
// training loop around the model's train_step, validation, early stopping,
// checkpoints and the test report. It only sees the model through Model.h.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_RUNTIME_TRAINER_H
#define KILN_RUNTIME_TRAINER_H

#include "runtime/Model.h"

namespace kiln::rt {

/// Runs the trainer's command line (argv[0] is the program) for `model`;
/// returns the process exit status.
int trainerMain(int argc, char **argv, const Model &model);

} // namespace kiln::rt

#endif // KILN_RUNTIME_TRAINER_H
