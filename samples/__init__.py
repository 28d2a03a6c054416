"""Sample estates and baselines for the demo, tests and benchmarks (not deployed)."""
