# project machine (2 shared cores, torch 2.13.0+cpu), 2026-12-01; a throwaway loop (experiment.py), not a library feature
python benchmarks/results/distill_cpu_2026-12-01/experiment.py 0 1 10 0     # no teacher
python benchmarks/results/distill_cpu_2026-12-01/experiment.py 0.5 2 10 0   # alpha 0.5, temperature 2
