# project machine (2 shared cores, torch 2.13.0+cpu), 2026-12-01, two runs at once, one thread each (a CI run beside for part)
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --lr 0.02 --epochs 30 --augment-shift 1 \
    --batch-size 64 --val-images 0 --keep last --test-every-epoch --out lr002.json
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --set tau=1.3 --epochs 30 --augment-shift 1 \
    --batch-size 64 --val-images 0 --keep last --test-every-epoch --out tau13.json
# then (no CI beside):
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 1 --lr 0.02 --epochs 30 --augment-shift 1 \
    --batch-size 64 --val-images 0 --keep last --test-every-epoch --out lr002_s1.json
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --lr 0.03 --epochs 30 --augment-shift 1 \
    --batch-size 64 --val-images 0 --keep last --test-every-epoch --out lr003.json
