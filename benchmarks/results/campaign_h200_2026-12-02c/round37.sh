# round 37 (1x H200): mnist_lut_large (60,000-image runs of rounds 26-29, seeds 0-2) refined with rewiring,
# 1 sweep at shift 1, three processes at once. OUT=... bash .../round37.sh
C=benchmarks/results/campaign_h200_2026-12-02/ckpt
mkdir -p $OUT/r
for s in 0 1 2; do
  timeout ${LIMIT:-230} python3 benchmarks/bench_refine.py $C/large-rel-s$s/mnist_lut_large-mnist-s$s.pt --sweeps 1 --shift 1 --rewire --save $OUT/r/ref --out $OUT/r/rewire-large-s$s.json > $OUT/r/rewire-large-s$s.txt 2>&1 &
done
wait
