export PYTHONUNBUFFERED=1
ROOT=$PWD
(cd .gpuwt/old && TORCH_EXTENSIONS_DIR=/tmp/te_old PYTHONPATH=$ROOT/.gpuwt/old python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built old')") > $OUT/build_old.log 2>&1 &
(python3 -m pip install --no-build-isolation --no-deps --no-index --target /tmp/site .gpuwt/torch_dwn-1.1.1.tar.gz > $OUT/dwn_install.log 2>&1; echo "dwn rc $?" >> $OUT/dwn_install.log) &
TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built new')" > $OUT/build.log 2>&1
wait; tail -n1 $OUT/build.log; tail -n1 $OUT/build_old.log; tail -n1 $OUT/dwn_install.log
export TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$ROOT
timeout 90 python3 -m pytest -q tests/test_cuda_kernels.py tests/test_node_dwn.py > $OUT/pytest.txt 2>&1; tail -n25 $OUT/pytest.txt | grep -v '^  '
timeout 60 python3 benchmarks/profile_step.py --batch 4096 --top 25 > $OUT/prof4096.txt 2>&1; tail -n 12 $OUT/prof4096.txt
for r in 1 2; do
  timeout 45 python3 benchmarks/bench_vs_dwn.py --no-dwn --iters 30 --batch 1024 4096 --epoch-batch > $OUT/bench_new_$r.txt 2>&1; tail -n2 $OUT/bench_new_$r.txt
  (cd .gpuwt/old && TORCH_EXTENSIONS_DIR=/tmp/te_old PYTHONPATH=$ROOT/.gpuwt/old timeout 45 python3 benchmarks/bench_vs_dwn.py --no-dwn --iters 30 --batch 1024 4096 --epoch-batch) > $OUT/bench_old_$r.txt 2>&1; tail -n2 $OUT/bench_old_$r.txt
done
PYTHONPATH=$ROOT:/tmp/site timeout 200 python3 benchmarks/bench_vs_dwn.py > $OUT/bench_vs_dwn_full.txt 2>&1; tail -n 20 $OUT/bench_vs_dwn_full.txt
