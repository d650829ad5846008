"""Evaluate prompt versions across models before promoting them (cases as data, a runner, reports, a gate)."""

from .cases import Case, CaseSet, load_cases, parse_cases
from .gate import GateVerdict, check_gate
from .llm import EvalConfig, Target, load_config
from .matrix import CaseOutcome, Cell, EvalMatrix
from .report import print_matrix, to_html, to_json
from .runner import aevaluate, evaluate

__all__ = [
    "Case",
    "CaseOutcome",
    "CaseSet",
    "Cell",
    "EvalConfig",
    "EvalMatrix",
    "GateVerdict",
    "Target",
    "aevaluate",
    "check_gate",
    "evaluate",
    "load_cases",
    "load_config",
    "parse_cases",
    "print_matrix",
    "to_html",
    "to_json",
]
