# round 36 (1x H200): small seed 2 (60,000-image run of rounds 26-29) refined with rewiring, 2 sweeps; a third
# rewiring sweep of small seeds 0 and 1 (from round 35's sweep-2 files); tiny seeds 0-2 a third rewiring sweep.
# OUT=... bash .../round36.sh
C=benchmarks/results/campaign_h200_2026-12-02/ckpt
F=benchmarks/results/campaign_h200_2026-12-02c/ckpt/refined
R="timeout ${LIMIT:-480} python3 benchmarks/bench_refine.py"
mkdir -p $OUT/r
$R $C/small-rel-s2/mnist_lut_small-mnist-s2.pt --sweeps 2 --shift 1 --rewire --save $OUT/r/ref --out $OUT/r/rewire-small-s2.json > $OUT/r/rewire-small-s2.txt 2>&1 &
for s in 0 1; do
  $R $F/mnist_lut_small-mnist-s$s-shift1-rewire-sweep2.pt --sweeps 1 --shift 1 --rewire --save $OUT/r/ref --out $OUT/r/rewire3-small-s$s.json > $OUT/r/rewire3-small-s$s.txt 2>&1 &
done
for s in 0 1 2; do
  $R $F/mnist_lut_tiny-mnist-s$s-shift1-rewire-sweep2.pt --sweeps 1 --shift 1 --rewire --save $OUT/r/ref --out $OUT/r/rewire3-tiny-s$s.json > $OUT/r/rewire3-tiny-s$s.txt 2>&1 &
done
wait
