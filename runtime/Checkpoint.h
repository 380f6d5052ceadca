// Checkpoint.h: being written (issue #4).
