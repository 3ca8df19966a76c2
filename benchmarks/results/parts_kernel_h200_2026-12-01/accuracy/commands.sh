export PYTHONUNBUFFERED=1
export TORCH_EXTENSIONS_DIR=/tmp/te_new PYTHONPATH=$PWD
python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built')" > $OUT/build.log 2>&1; tail -n1 $OUT/build.log
mkdir -p $OUT/acc
cat > $OUT/plan.txt <<'P'
# the README recipe through the graphed step with the float16-parts first layer (H200, one GPU, 3 processes at once)
p-s0  --models mnist_fc_8k_dwn --seeds 0 --epochs-main 30 --batch-size 64 --augment-shift 1 --keep last --test-every-epoch --cuda-graph
p-s1  --models mnist_fc_8k_dwn --seeds 1 --epochs-main 30 --batch-size 64 --augment-shift 1 --keep last --test-every-epoch --cuda-graph
p-s2  --models mnist_fc_8k_dwn --seeds 2 --epochs-main 30 --batch-size 64 --augment-shift 1 --keep last --test-every-epoch --cuda-graph
P
(timeout 330 python3 benchmarks/run_parallel.py $OUT/plan.txt $OUT/acc --gpus 1 > $OUT/accuracy.txt 2>&1) &
timeout 120 python3 benchmarks/gpu_vs_cpu_gradients.py > $OUT/gpu_vs_cpu.txt 2>&1; cat $OUT/gpu_vs_cpu.txt | tail -8
wait; tail -n 8 $OUT/accuracy.txt
