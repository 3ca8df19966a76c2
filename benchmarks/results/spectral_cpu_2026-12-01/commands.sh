# project machine (2 shared cores, torch 2.13.0+cpu), 2026-12-01, two runs at once, one thread each
for w in 0.0003 0.001; do
  OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --set regularization=spectral \
    --set reg_weight=$w --epochs 30 --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch \
    --out benchmarks/results/spectral_cpu_2026-12-01/spec$w.json &
done; wait
