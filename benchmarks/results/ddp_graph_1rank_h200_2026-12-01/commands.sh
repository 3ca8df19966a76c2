export TORCH_EXTENSIONS_DIR=/tmp/torch_extensions PYTHONPATH=$PWD
python3 -c "from difflut import kernels; kernels.efd_extension(required=True); print('built')" > $OUT/build.log 2>&1; tail -3 $OUT/build.log
COMMON="mnist_fc_8k_dwn --device cuda --batch-size 1024 --epochs 4 --schedule cosine --keep last --val-size 0 --seed 0 --cuda-graph"
( time timeout 150 python3 -m difflut train $COMMON --out /tmp/plain.pt ) > $OUT/plain.log 2>&1; tail -8 $OUT/plain.log
( time timeout 150 python3 -m torch.distributed.run --nproc_per_node 1 -m difflut train $COMMON --out /tmp/ddp1.pt ) > $OUT/ddp1.log 2>&1; tail -12 $OUT/ddp1.log
python3 - > $OUT/compare.txt 2>&1 <<'PY'
from difflut.checkpoint import load
from difflut import evaluate
from difflut.data import load_dataset
x, y = load_dataset("mnist", "test")
for f in ("/tmp/plain.pt", "/tmp/ddp1.pt"):
    try:
        m = load(f, device="cuda"); h = m.checkpoint_metadata["history"]
        print(f, [round(r["samples_per_s"]) for r in h], evaluate(m, x, y))
    except Exception as e:
        print(f, "ERROR", e)
PY
cat $OUT/compare.txt
mkdir -p /tmp/r12; export OUT_CKPT=/tmp/r12/ckpt
timeout 420 python3 benchmarks/run_parallel.py benchmarks/results/campaign_h200_2026-12-01b/plan12.txt /tmp/r12/round12 --gpus 1 --deadline 380 > $OUT/r12.txt 2>&1
tail -9 $OUT/r12.txt; tar czf $OUT/r12.tgz -C /tmp/r12 .
