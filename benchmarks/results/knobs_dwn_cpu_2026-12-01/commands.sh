# project machine (2 shared cores, torch 2.13.0+cpu), 2026-12-01 (session 13), one thread per run, 2 runs at once
# (ECP5 place and route beside for part). mnist_lut_tiny, now node_type=dwn by default, seed 0, 30 epochs, one knob
# each against seed 0 of knobs_cpu_2026-12-01 (dwn, lr 0.03, tau 1: 95.67%; the CPU runs are bit-reproducible).
# From the repository root:
D=benchmarks/results/knobs_dwn_cpu_2026-12-01
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --set tau=1.5 --epochs 30 --augment-shift 1 \
    --batch-size 64 --val-images 0 --keep last --test-every-epoch --out $D/tau1.5.json > $D/tau1.5.log &
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --lr 0.05 --epochs 30 --augment-shift 1 \
    --batch-size 64 --val-images 0 --keep last --test-every-epoch --out $D/lr0.05.json > $D/lr0.05.log &
wait
# then two more, the same way (2 at once, nothing else beside): the node's options (difflut/nodes/dwn.py)
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --set 'node_kwargs={"efd": "released"}' --epochs 30 \
    --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch --out $D/efd_released.json > $D/efd_released.log &
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --set 'node_kwargs={"clamp": False}' --epochs 30 \
    --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch --out $D/no_clamp.json > $D/no_clamp.log &
wait
# the clamp-free run was stopped at epoch 13 (92.97% test, behind the baseline's 93.75% there:
# no_clamp_stopped_epoch13.log) for two more seeds of the released weighting, which led at every epoch:
for s in 1 2; do
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds $s --set 'node_kwargs={"efd": "released"}' --epochs 30 \
    --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch --out $D/efd_released_s$s.json > $D/efd_released_s$s.log &
done; wait
