"""A run's result, derived from its config and trial log (plus the problem's ground truth)."""

from __future__ import annotations

from typing import Any

from hwnas.search.base import Trial
from hwnas.search.problem import SearchProblem
from hwnas.search.ranking import best_feasible

SUMMARY_NAME = "summary.json"
OPTIMUM_TOLERANCE = 1e-9
# finished: the query budget is spent; exhausted: the searcher had nothing left to propose.
DONE_STATUSES = ("finished", "exhausted")


def best_feasible_curve(trials: list[Trial]) -> list[dict[str, Any]]:
    """Each counted query at which the best feasible accuracy improved (1-based query numbers)."""
    points: list[dict[str, Any]] = []
    best: float | None = None
    query = 0
    for trial in trials:
        if not trial.counted:
            continue
        query += 1
        if trial.feasible and trial.accuracy is not None and (best is None or trial.accuracy > best):
            best = trial.accuracy
            points.append({"query": query, "accuracy": best})
    return points


def summarize(
    config: dict[str, Any], trials: list[Trial], status: str, problem: SearchProblem | None = None
) -> dict[str, Any]:
    """Everything `hwnas runs show` and the benchmark tables print about a run."""
    budget_ms = float(config["problem"]["budget_ms"])
    counted = [t for t in trials if t.counted]
    searcher_time_s = sum(t.searcher_time_s for t in trials)
    summary: dict[str, Any] = {
        "format": "hwnas-run-summary",
        "version": 1,
        "status": status,
        "searcher": config["searcher"],
        "seed": config["seed"],
        "problem": config["problem"],
        "queries": config["queries"],
        "queries_used": len(counted),
        "trials": len(trials),
        "latency_checks": len(trials) - len(counted),
        "feasible_queries": sum(1 for t in counted if t.feasible),
        "steps": max((t.step for t in trials), default=0),
        "searcher_time_s": searcher_time_s,
        "searcher_time_per_query_s": searcher_time_s / len(counted) if counted else None,
        "eval_time_s": sum(t.wall_time_s for t in trials),
        "curve": best_feasible_curve(trials),
        "best": None,
        "optimum": None,
        "regret": None,
        "hit_optimum": None,
        "queries_to_optimum": None,
    }
    best = best_feasible(trials)
    if best is not None:
        summary["best"] = {
            "arch_str": best.arch_str,
            "accuracy": best.accuracy,
            "latency_ms": best.latency_ms,
            "margin_ms": budget_ms - best.latency_ms,
            "trial": best.number,
            "query": next(p["query"] for p in summary["curve"] if p["accuracy"] == best.accuracy),
            "step": best.step,
        }
    if problem is None:
        return summary
    if best is not None:
        summary["best"].update(problem.report_values(best.arch_str))
    truth = problem.ground_truth()
    if truth is None:
        return summary
    optimum = truth.optimum()
    summary["n_feasible_archs"] = truth.n_feasible
    summary["n_archs"] = len(truth.arch_strs)
    if optimum is None:
        return summary
    optimum.update(problem.report_values(optimum["arch_str"]))
    summary["optimum"] = optimum
    if best is not None:
        # An estimated accuracy (zero-cost, low fidelity) is judged by the reference accuracy.
        true_accuracy = best.accuracy
        if problem.accuracy.is_estimate and problem.reference is not None:
            true_accuracy = float(problem.reference.accuracy(best.arch_str))
            summary["best"]["true_accuracy"] = true_accuracy
        summary["best"]["rank"] = truth.rank(true_accuracy)
        summary["regret"] = optimum["accuracy"] - true_accuracy
        summary["hit_optimum"] = true_accuracy >= optimum["accuracy"] - OPTIMUM_TOLERANCE
    else:
        summary["hit_optimum"] = False
    if not problem.accuracy.is_estimate:
        summary["queries_to_optimum"] = next(
            (p["query"] for p in summary["curve"] if p["accuracy"] >= optimum["accuracy"] - OPTIMUM_TOLERANCE), None
        )
    return summary
