"""benchmarks/bench_ddp.py: the per-seed summary of one-GPU against multi-GPU runs (the runs need GPUs)."""

import pytest


@pytest.fixture(scope="module")
def bench_ddp(load_benchmark):
    return load_benchmark("bench_ddp")


def test_summary_averages_each_gpu_count_over_its_seeds(bench_ddp):
    runs = [{"gpus": g, "seed": s, "samples_per_s": rate, "test_accuracy": acc}
            for g, s, rate, acc in ((1, 0, 100.0, 0.9860), (2, 0, 190.0, 0.9850), (1, 1, 110.0, 0.9846),
                                    (2, 1, 200.0, 0.9856))]
    header, rule, one, two = bench_ddp.summary(runs)
    assert header.startswith("| GPUs | seeds") and rule.startswith("|---")
    assert one == "| 1 | 0 1 | 105 | 1.00x | 98.53 +- 0.10 |"
    assert two == "| 2 | 0 1 | 195 | 1.86x | 98.53 +- 0.04 |"
    assert bench_ddp.summary(runs[:2])[-1] == "| 2 | 0 | 190 | 1.90x | 98.50 +- 0.00 |"
