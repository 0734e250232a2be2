"""The load benchmark's clinicians (a Node load generator, `clinicians.mjs`) and the CPU accounting of every
process a benchmark setup runs (`processes.py`); `scripts/bench_load.py` orchestrates both."""
