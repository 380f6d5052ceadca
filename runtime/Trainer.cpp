// Trainer.cpp: being written (issue #4).
