set -x
export TORCH_EXTENSIONS_DIR=/tmp/torch_extensions PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv > $OUT/gpu.txt; nvidia-smi topo -m >> $OUT/gpu.txt 2>&1
python3 -c "import torch; print(torch.__version__)" >> $OUT/gpu.txt
python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built')" > $OUT/build.log 2>&1; tail -2 $OUT/build.log
timeout 150 python3 benchmarks/bench_ddp.py --gpus 1 2 --batch-size 1024 --epochs 5 --cuda-graph > $OUT/speed1024.txt 2>&1; cat $OUT/speed1024.txt
timeout 80 python3 benchmarks/bench_ddp.py --gpus 1 2 --batch-size 4096 --epochs 10 --cuda-graph > $OUT/speed4096.txt 2>&1; cat $OUT/speed4096.txt
for s in 0 1 2; do
timeout 100 python3 benchmarks/bench_ddp.py --gpus 1 2 --batch-size 128 --global-batch --epochs 30 --cuda-graph --seed $s --train-arg=--augment-shift=1 > $OUT/acc_s$s.txt 2>&1; cat $OUT/acc_s$s.txt
done
