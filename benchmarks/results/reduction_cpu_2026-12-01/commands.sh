# CPU (project machine, 2 cores, one thread per run, two runs at once), torch 2.13.0+cpu, 2026-12-01.
# Grouped reduction (mnist_lut_tiny as registered: learnable 430 -> GroupedLayer 110, each class's 11 LUTs read
# only that class's 43 features) against a random second layer over all 430 features (the same LUT count).
OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --epochs 30 --epochs-main 30 \
  --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch --verbose \
  --out tiny_base.json
OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --epochs 30 --epochs-main 30 \
  --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch --verbose \
  --set "layer_widths=(430,110)" --set "reduction_widths=()" --out tiny_shared.json
# then seed 1 of the shared form (checkpoint kept for synthesis) and mnist_lut_small's shared form for 10 epochs:
OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 1 --epochs 30 --epochs-main 30 \
  --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch \
  --set "layer_widths=(430,110)" --set "reduction_widths=()" --save-checkpoints ckpt --out tiny_shared_s1.json
OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_small --seeds 0 --epochs 10 --epochs-main 10 \
  --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch \
  --set "layer_widths=(900,230)" --set "reduction_widths=()" --out small_shared_10ep.json
# synthesis of the seed-1 shared model (report: synth_tiny_shared_s1.md)
difflut export ckpt/mnist_lut_tiny-mnist-s1.pt --target verilog -o rtl
difflut synth rtl --target xilinx --jobs 1
# within 700 LUTs: 428 learnable nodes, seeds 0 and 2 (checkpoints kept; seed 0 synthesised: synth_tiny428_s0.md)
for s in 0 2; do OMP_NUM_THREADS=1 python3 benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds $s --epochs 30 \
  --epochs-main 30 --augment-shift 1 --batch-size 64 --val-images 0 --keep last --device cpu --test-every-epoch \
  --set "layer_widths=(428,110)" --set "reduction_widths=()" --save-checkpoints ckpt --out tiny428_s$s.json & done; wait
difflut export ckpt/mnist_lut_tiny-mnist-s0.pt --target verilog -o rtl && difflut synth rtl --target xilinx --jobs 2
