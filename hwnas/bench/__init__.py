"""Benchmark harness: searchers x settings x seeds x query budgets, with tables and plots."""
