"""benchmarks/bench_ab.py: the old-tree-against-new-tree step benchmark (its CPU-side parts)."""

import pytest

OUTPUT = """difflut: loading the CUDA kernels (built once per machine, about a minute)...
device: NVIDIA H200, torch 2.11.0+cu130

issue-13 network: median ms per training step
 batch   torch-dwn ms  DiffLUT ms  speed-up  DiffLUT samples/s
    32           6.07        0.63     9.59x             50,557

mnist_fc_8k_dwn: median ms per training step
 batch  pure torch ms  DiffLUT ms  speed-up  DiffLUT samples/s
  1024           4.46        1.25     3.55x            816,041
  4096           9.26        2.88     3.21x          1,421,353

mnist_fc_8k_dwn: difflut.training.train epoch (random MNIST-shaped data, 60,000 images)
 batch  samples/s  of step rate  CPU cores  (whole train)  eval images/s  packed eval images/s
   256    295,720          106%       1.00           2.63        418,859             3,363,407
"""


@pytest.fixture(scope="module")
def bench_ab(load_benchmark):
    return load_benchmark("bench_ab")


def test_parses_the_8k_step_table_only(bench_ab):
    assert bench_ab.parse_steps(OUTPUT) == {1024: (4.46, 1.25), 4096: (9.26, 2.88)}
    assert bench_ab.parse_steps(OUTPUT.replace("mnist_fc_8k_dwn: median", "other: median")) == {}


def test_refuses_a_folder_that_is_not_a_tree_and_existing_outputs(bench_ab, tmp_path):
    with pytest.raises(SystemExit, match="is not a DiffLUT tree"):
        bench_ab.main([str(tmp_path)])
    old = tmp_path / "old"
    (old / "benchmarks").mkdir(parents=True)
    (old / "difflut").mkdir()
    (old / "benchmarks" / "bench_vs_dwn.py").write_text("")
    out = tmp_path / "out"
    out.mkdir()
    (out / "bench_old_2.txt").write_text("mine")
    with pytest.raises(SystemExit, match="refusing to overwrite .*bench_old_2.txt"):
        bench_ab.main([str(old), "--out", str(out)])
    assert (out / "bench_old_2.txt").read_text() == "mine"
