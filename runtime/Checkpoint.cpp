// Checkpoint.cpp: being written (issue #4).
