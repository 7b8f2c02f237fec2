"""The sweep specs the tests share. SPEC: the small sweep the Ray tests run, on the embedded default
and on the namespace cluster alike; GAINS: a grid that the spec and --dry-run tests only expand.

SPEC has four record jobs (a few seconds each on a CPU, long enough to kill a node under one), a batched
rollout, a bench cell, and one job that fails where it runs: comfree refuses a model with an
elliptic friction cone, which only the engine checks.
"""

from pathlib import Path

ELLIPTIC = """<mujoco model="elliptic">
  <option cone="elliptic"/>
  <worldbody>
    <geom type="plane" size="1 1 .1"/>
    <body pos="0 0 .2"><freejoint/><geom type="box" size=".05 .05 .05"/></body>
  </worldbody>
</mujoco>
"""

SPEC = """
[[grid]]
kind = ["record"]
model = ["pendulum"]
seed = [0, 1, 2, 3]

[[grid]]
kind = ["rollout"]
model = ["box_drop"]
nworld = [2]

[[grid]]
kind = ["bench"]
model = ["pendulum"]

[[grid]]
kind = ["rollout"]
model = ["elliptic.xml"]
engine = ["comfree"]

[settings]
duration = 1.5
fps = 20.0
width = 64
height = 64
nstep = 200
seconds = 0.2
device = "cpu"
"""

# a grid that is not run: 2 engines x 3 comfree gains x 2 seeds, which mjc does not repeat per gain (8 jobs)
GAINS = """
out = "sweeps/gains"
[grid]
kind = ["rollout"]
model = ["box_drop"]
engine = ["mjc", "comfree"]
comfree_stiffness = [0.1, 0.2, 0.4]
seed = [0, 1]
[settings]
duration = 0.5
[resources]
cpus = 2
gpus = 0.5
"""

RECORDS, ROLLOUT, BENCH, FAILING = 4, 1, 1, 1
JOBS = RECORDS + ROLLOUT + BENCH + FAILING


def write(folder: Path, spec: str = SPEC) -> Path:
    (folder / "elliptic.xml").write_text(ELLIPTIC)
    path = folder / "sweep.toml"
    path.write_text(spec)
    return path
