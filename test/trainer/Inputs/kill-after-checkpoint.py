"""Runs a command (a training run) and SIGKILLs it once the checkpoint file
given first exists and has been replaced at least once more, so the kill
lands part-way through training whatever the machine's speed. Fails if the
run finished before it could be killed."""
import os, signal, subprocess, sys, time

checkpoint, command = sys.argv[1], sys.argv[2:]
run = subprocess.Popen(command, stdout=subprocess.DEVNULL)
seen = set()
while run.poll() is None:
    try:
        seen.add(os.stat(checkpoint).st_ino)  # each save renames a new file
    except FileNotFoundError:
        pass
    if len(seen) >= 2:
        run.send_signal(signal.SIGKILL)
        run.wait()
        sys.exit(0)
    time.sleep(0.005)
sys.exit("the run ended before it could be killed")
