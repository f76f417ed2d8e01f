"""PromQL: parse rule expressions with ``promql-parser`` (the Rust parser used by GreptimeDB, as a wheel), and list the
metric and function names they use. When that package is not installed a small validator (brackets, quotes, known
functions, durations) stands in, so a broken expression is still caught."""

from __future__ import annotations

import re
from functools import lru_cache

try:  # pragma: no cover - exercised by whichever is installed
    import promql_parser as _pp
except ImportError:  # pragma: no cover
    _pp = None

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
    "histogram_stdvar", "histogram_sum", "holt_winters", "double_exponential_smoothing", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "mad_over_time",
    "max_over_time", "min_over_time", "minute", "month", "predict_linear", "present_over_time", "quantile_over_time",
    "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sort_by_label", "sort_by_label_desc", "sqrt",
    "stddev_over_time", "stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year", "acos", "acosh",
    "asin", "asinh", "atan", "atanh", "cos", "cosh", "deg", "pi", "rad", "sin", "sinh", "tan", "tanh", "info",
    # aggregations and keywords that look like calls
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
    "limitk", "limit_ratio", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


@lru_cache(maxsize=4096)
def check(expr: str) -> tuple[str | None, frozenset[str], frozenset[str]]:
    """(error or None, metric names, function names) of a PromQL expression."""
    expr = expr.strip()
    if not expr:
        return "empty expression", frozenset(), frozenset()
    if _pp is not None:
        try:
            tree = _pp.parse(expr)
        except (ValueError, TypeError, RuntimeError) as exc:
            return str(exc).splitlines()[0][:200], frozenset(), frozenset()
        metrics: set[str] = set()
        funcs: set[str] = set()

        def visit(node) -> bool:
            t = type(node).__name__
            if t == "VectorSelector" and node.name:
                metrics.add(node.name)
            elif t == "Call":
                funcs.add(node.func.name)
            elif t == "AggregateExpr":
                funcs.add(str(node.op).rsplit(".", 1)[-1].lower())
            return True

        try:
            _pp.walk(tree, visit)
        except Exception:  # a walker surprise must not hide that the expression parsed
            pass
        return None, frozenset(metrics), frozenset(funcs)
    return _fallback(expr)


def _fallback(expr: str) -> tuple[str | None, frozenset[str], frozenset[str]]:
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    quote = None
    i = 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if not stack or stack.pop() != pairs[ch]:
                return f"unbalanced '{ch}'", frozenset(), frozenset()
        i += 1
    if quote:
        return "unterminated string", frozenset(), frozenset()
    if stack:
        return f"unclosed '{stack[-1]}'", frozenset(), frozenset()
    bare = re.sub(r"\{[^}]*\}|\"[^\"]*\"|'[^']*'", "", expr)
    for d in re.findall(r"\[([^\]]+)\]", bare):
        for part in d.split(":"):
            if part and not DURATION.match(part.strip()):
                return f"bad duration '{d}'", frozenset(), frozenset()
    funcs = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*\(", bare))
    unknown = sorted(f for f in funcs if f not in FUNCTIONS)
    if unknown:
        return f"unknown function with name '{unknown[0]}'", frozenset(), frozenset()
    if re.search(r"(==|!=|>=|<=|[><+\-*/%^]|\band\b|\bor\b|\bunless\b)\s*$", bare):
        return "expression ends with an operator", frozenset(), frozenset()
    words = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b", bare)) - funcs - FUNCTIONS
    return None, frozenset(w for w in words if not DURATION.match(w)), frozenset(funcs)
