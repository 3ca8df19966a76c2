# round 35 (1x H200): table refinement (difflut.refine) of trained checkpoints, run as
#   OUT=... bash benchmarks/results/campaign_h200_2026-12-02c/round35.sh
# flip1: the registered recipe's refinement (1 sweep, shift 1, table entries only) of the 60,000-image runs of
# rounds 26-29 (tiny, small, 3 seeds each); rewire-val-*: 2 sweeps with rewiring of round 34's runs (trained on
# 55,000 images, already refined 3 sweeps), the last 5,000 training images held out; rewire-*: 2 sweeps with
# rewiring of the 60,000-image runs.
C=benchmarks/results/campaign_h200_2026-12-02/ckpt
V=benchmarks/results/campaign_h200_2026-12-02c/ckpt
T="$C/tiny-rel-s0/mnist_lut_tiny-mnist-s0.pt $C/tiny-rel-s1/mnist_lut_tiny-mnist-s1.pt $C/tiny-rel-s2/mnist_lut_tiny-mnist-s2.pt"
S="$C/small-rel-s0/mnist_lut_small-mnist-s0.pt $C/small-rel-s1/mnist_lut_small-mnist-s1.pt $C/small-rel-s2/mnist_lut_small-mnist-s2.pt"
VT="$V/tiny-val-s0/mnist_lut_tiny-mnist-s0.pt $V/tiny-val-s1/mnist_lut_tiny-mnist-s1.pt $V/tiny-val-s2/mnist_lut_tiny-mnist-s2.pt"
VS="$V/small-val-s0/mnist_lut_small-mnist-s0.pt $V/small-val-s1/mnist_lut_small-mnist-s1.pt"
R="timeout ${LIMIT:-520} python3 benchmarks/bench_refine.py"
mkdir -p $OUT/r
$R $T $S --sweeps 1 --shift 1 --save $OUT/r/ref --out $OUT/r/flip1.json > $OUT/r/flip1.txt 2>&1 &
$R $VT --sweeps 2 --shift 1 --rewire --val-images 5000 --out $OUT/r/rewire-val-tiny.json > $OUT/r/rewire-val-tiny.txt 2>&1 &
$R $VS --sweeps 2 --shift 1 --rewire --val-images 5000 --out $OUT/r/rewire-val-small.json > $OUT/r/rewire-val-small.txt 2>&1 &
$R $T --sweeps 2 --shift 1 --rewire --save $OUT/r/ref --out $OUT/r/rewire-tiny.json > $OUT/r/rewire-tiny.txt 2>&1 &
$R $S --sweeps 2 --shift 1 --rewire --save $OUT/r/ref --out $OUT/r/rewire-small.json > $OUT/r/rewire-small.txt 2>&1 &
wait
