# build old (HEAD before the fixed-point input gradient) and new kernels at once, test the new, A/B bench
export PYTHONUNBUFFERED=1
ROOT=$PWD
(cd .gpuwt/old && TORCH_EXTENSIONS_DIR=/tmp/te_old PYTHONPATH=$ROOT/.gpuwt/old python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built old')") > $OUT/build_old.log 2>&1 &
TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built new')" > $OUT/build.log 2>&1
wait; tail -1 $OUT/build.log $OUT/build_old.log
TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT timeout ${TEST_S:-150} python3 -m pytest -q -x tests/test_cuda_kernels.py tests/test_core.py tests/test_encoders.py > $OUT/pytest.txt 2>&1; tail -3 $OUT/pytest.txt
for r in 1 2; do
  TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT timeout 90 python3 benchmarks/bench_vs_dwn.py --no-dwn --iters 30 --batch 1024 4096 --epoch-batch > $OUT/bench_new_$r.txt 2>&1; tail -3 $OUT/bench_new_$r.txt
  (cd .gpuwt/old && TORCH_EXTENSIONS_DIR=/tmp/te_old PYTHONPATH=$ROOT/.gpuwt/old timeout 90 python3 benchmarks/bench_vs_dwn.py --no-dwn --iters 30 --batch 1024 4096 --epoch-batch) > $OUT/bench_old_$r.txt 2>&1; tail -3 $OUT/bench_old_$r.txt
done
