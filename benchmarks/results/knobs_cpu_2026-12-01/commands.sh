# project machine (2 shared cores, torch 2.13.0+cpu), 2026-12-01 (session 12), one thread per run, 2-3 runs at once
# (CI runs and ECP5 place and route beside for part: the epoch times are not comparable). mnist_lut_tiny at lr 0.03.
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 0 --lr 0.03 --epochs 30 --augment-shift 1 \
    --batch-size 32 --val-images 0 --keep last --test-every-epoch --out b32_lr003.json
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 1 --set node_type=dwn --lr 0.03 --epochs 30 \
    --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch --out dwn_s1.json
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds 2 --set node_type=dwn --lr 0.03 --epochs 30 \
    --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch --out dwn_s2.json
# the same three dwn runs again with their checkpoints kept (same accuracy at every epoch: the CPU runs are
# bit-reproducible), three at once; seed 0 new:
for s in 0 1 2; do
OMP_NUM_THREADS=1 python benchmarks/bench_zoo.py --models mnist_lut_tiny --seeds $s --set node_type=dwn --lr 0.03 --epochs 30 \
    --augment-shift 1 --batch-size 64 --val-images 0 --keep last --test-every-epoch --save-checkpoints ckpt-s$s --out dwn_ckpt_s$s.json &
done; wait
# LUTs of each (yosys 0.70), and the record:
difflut export ckpt-sS/mnist_lut_tiny-mnist-sS.pt --target verilog --lut-style xilinx --pipeline layers -o rtl-sS
difflut synth rtl-sS --target xilinx --jobs 1   # report.json / report.md copied to synth/dwn-sS.*
python benchmarks/bench_pareto.py --record ckpt-s0/*.pt synth/dwn-s0.json ckpt-s1/*.pt synth/dwn-s1.json \
    ckpt-s2/*.pt synth/dwn-s2.json --json pareto_dwn.json
