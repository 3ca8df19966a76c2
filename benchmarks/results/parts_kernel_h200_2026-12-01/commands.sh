export PYTHONUNBUFFERED=1
ROOT=$PWD
(cd .gpuwt/old && TORCH_EXTENSIONS_DIR=/tmp/te_old PYTHONPATH=$ROOT/.gpuwt/old python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built old')") > $OUT/build_old.log 2>&1 &
TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built new')" > $OUT/build.log 2>&1
wait; tail -n3 $OUT/build.log; tail -n1 $OUT/build_old.log
export TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT
timeout 90 python3 -m pytest -q tests/test_cuda_kernels.py > $OUT/pytest.txt 2>&1; tail -n25 $OUT/pytest.txt | grep -v '^  '
timeout 60 python3 benchmarks/profile_step.py --batch 4096 --top 14 > $OUT/prof4096.txt 2>&1; tail -n 16 $OUT/prof4096.txt
for r in 1 2; do
  timeout 45 python3 benchmarks/bench_vs_dwn.py --no-dwn --iters 30 --batch 1024 4096 --epoch-batch > $OUT/bench_new_$r.txt 2>&1; tail -n2 $OUT/bench_new_$r.txt
  (cd .gpuwt/old && TORCH_EXTENSIONS_DIR=/tmp/te_old PYTHONPATH=$ROOT/.gpuwt/old timeout 45 python3 benchmarks/bench_vs_dwn.py --no-dwn --iters 30 --batch 1024 4096 --epoch-batch) > $OUT/bench_old_$r.txt 2>&1; tail -n2 $OUT/bench_old_$r.txt
done
# call 4 also ran, after the profile (ncu_wired_kernels.txt; ncu fixes the SM clock near 1.5 GHz, so its durations are longer):
# ncu --kernel-name regex:"efd_input_grad_f16|wired_input_grad_fixed|wired_forward" --launch-count 3 --section SpeedOfLight \
#     --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats python3 benchmarks/profile_step.py --iters 1 --batch 4096
# old = .gpuwt/old: `git archive e19babc difflut csrc benchmarks/bench_vs_dwn.py pyproject.toml`; new = the working tree
