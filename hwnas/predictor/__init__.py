"""Latency predictors: fitted on a profiled subset of a device table, predicting every other arch."""
