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
