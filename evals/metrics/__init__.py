"""Eval metrics, one module each; :mod:`evals.metrics.registry` names them for suites and reports."""
