"""The pieces of bench/train_throughput.py: workload, the HF Trainer variants, the project loop, the report."""
