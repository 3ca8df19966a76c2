# H200, 2026-12-01: the first run of benchmarks/bench_ab.py (old = e19babc, exported with
# `git archive e19babc difflut csrc benchmarks/bench_vs_dwn.py pyproject.toml | tar -x -C .gpuwt/old`)
PYTHONPATH=$PWD python3 benchmarks/bench_ab.py .gpuwt/old --runs 1 --batch 4096 --iters 20 --out $OUT/ab
#  run  batch      old      new  new/old  torch (old)  torch (new)  speed-up new
#    1   4096     3.39     2.94    0.867         9.20         8.89         3.02x
