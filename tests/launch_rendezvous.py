"""Launched twice by tests/test_parallel.py: the runner's rendezvous before each of three notebooks, each
followed by a child process that joins a process group on the port handed out (as a notebook's kernel
does) and sums the ranks. Writes rank<N>.json with the ports it got and the sums."""
import json
import os
import subprocess
import sys
from pathlib import Path

from memlib.parallel import next_rendezvous

CHILD = """
import torch, torch.distributed as dist
dist.init_process_group("gloo")
t = torch.tensor([dist.get_rank() + 1])
dist.all_reduce(t)
print(int(t.item()))
dist.destroy_process_group()
"""

out, launcher_port, got = Path(sys.argv[1]), os.environ["MASTER_PORT"], []
for _ in range(3):
    next_rendezvous()
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=True)
    got.append({"port": os.environ["MASTER_PORT"], "sum": int(child.stdout.split()[-1])})
(out / f"rank{os.environ['RANK']}.json").write_text(json.dumps({"launcher_port": launcher_port, "rounds": got}))
