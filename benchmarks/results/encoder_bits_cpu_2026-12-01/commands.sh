# CPU, one thread per run, both runs at once on the 2-core project machine (2026-12-01)
OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --epochs 10 --epochs-main 10 --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch --set encoder_bits=8 --set encoder_budget=4800 --out tiny_10ep_budget4800.json
# stopped after epoch 4 (to free the core):
OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --epochs 10 --epochs-main 10 --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch --set encoder=distributive_thermometer --set encoder_bits=8 --set encoder_budget=None --out C.json
