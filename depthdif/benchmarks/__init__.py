"""Benchmark scripts (`python -m depthdif.benchmarks.<area>`); each rewrites its section of BENCHMARKS.md."""
