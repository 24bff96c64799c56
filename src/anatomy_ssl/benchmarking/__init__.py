"""Benchmark suites: pretrain every method under one budget, run every protocol, write a report."""
