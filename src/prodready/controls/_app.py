"""Helpers for the application, infrastructure and data controls (queries over the model, never I/O).

Defines no control; the modules that do import from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..model import CodeFile, HttpApp, Loc, Project, Route, Workload
from ..parsers.pyfacts import Function

PY, JS = "python", ("javascript", "typescript")
TEST_PATH = re.compile(r"(^|/)(tests?|__tests__|spec|specs|e2e|testing|fixtures?|testdata|examples?)(/|$)|"
                       r"(^|/)(test_[^/]*|[^/]*_test\.py|[^/]*\.(test|spec)\.[jt]sx?|conftest\.py)$", re.I)
INFRA_ROUTE = re.compile(r"^/?(api/)?(v\d+/)?(health|healthz|healthcheck|health-check|livez|readyz|ready|readiness|"
                         r"liveness|status|ping|_health|-/healthy|metrics|version|docs|redoc|openapi\.json|"
                         r"swagger[^/]*|favicon\.ico|robots\.txt)/?$", re.I)


@lru_cache(maxsize=65536)  # pure, and asked for the same paths by many controls
def is_test(path: str) -> bool:
    return bool(TEST_PATH.search(path))


@lru_cache(maxsize=16384)  # pure, and the same route paths are judged by several controls
def is_infra_route(path: str) -> bool:
    """An operational route (health, metrics, docs...): ``INFRA_ROUTE.match(path)``."""
    return bool(INFRA_ROUTE.match(path))


def code(p: Project, *, tests: bool = False) -> list[CodeFile]:
    """Code files of the project, test code left out unless ``tests`` (computed once per project)."""
    if tests:
        return p.code
    cached = getattr(p, "_app_nontest", None)
    if cached is None or cached[0] != len(p.code):
        cached = (len(p.code), [cf for cf in p.code if not is_test(cf.path)])
        p._app_nontest = cached  # type: ignore[attr-defined]
    return cached[1]


def _prefixes(cf: CodeFile) -> dict[str, tuple[str, int]]:
    """Every import of ``cf`` and each of its parent modules (``a.b.c`` → ``a.b``, ``a``; ``@s/x/y`` → ``@s/x``),
    mapped to the first import (in file order) under it; computed once per file."""
    cached = getattr(cf, "_import_prefixes", None)
    if cached is not None:
        return cached
    out: dict[str, tuple[str, int]] = {}
    for imp, line in sorted(cf.facts.imports.items(), key=lambda kv: kv[1]):
        out.setdefault(imp, (imp, line))
        i = len(imp)
        while i > 0:
            i = max(imp.rfind(".", 0, i), imp.rfind("/", 0, i))
            if i > 0:
                out.setdefault(imp[:i], (imp, line))
    cf._import_prefixes = out  # type: ignore[attr-defined]
    return out


def imports_matching(cf: CodeFile, mods: tuple[str, ...]) -> tuple[str, int] | None:
    """The first import of ``cf`` that is one of ``mods`` or a submodule of one (``a.b``, ``@scope/x/y``)."""
    pre = _prefixes(cf)
    hits = [pre[m] for m in mods if m in pre]
    return min(hits, key=lambda h: h[1]) if hits else None


def _import_keys(imp: str) -> tuple[str, ...]:
    """An import and each of its parent modules (the keys :func:`_prefixes` gives it)."""
    keys = [imp]
    j = len(imp)
    while j > 0:
        j = max(imp.rfind(".", 0, j), imp.rfind("/", 0, j))
        if j > 0:
            keys.append(imp[:j])
    return tuple(keys)


def _import_index(p: Project) -> dict[str, list[int]]:
    """Every import prefix (the keys of :func:`_prefixes`: each import and each of its parent modules) ->
    positions in ``p.code`` of the files that have it."""
    idx: dict[str, list[int]] = {}
    known: dict[str, tuple[str, ...]] = {}  # import -> its keys (most modules are imported by many files)
    for i, cf in enumerate(p.code):
        keys: set[str] = set()
        for imp in cf.facts.imports:
            ks = known.get(imp)
            if ks is None:
                ks = known[imp] = _import_keys(imp)
            keys.update(ks)
        for key in keys:
            idx.setdefault(key, []).append(i)
    return idx


def _importing_positions(p: Project, py: tuple[str, ...], js: tuple[str, ...]) -> list[int]:
    """Positions in ``p.code`` of the files importing one of ``py`` (Python) / ``js`` (JavaScript, TypeScript).
    Indexed once per project and remembered per question: dozens of controls ask "which files import X?", and
    walking every file's imports for each of them dominated evaluation on large repositories."""
    py, js = tuple(py), tuple(js)  # (memo keys)

    def compute() -> list[int]:
        # a file matches when one of its language's modules is among its import prefixes (as imports_matching)
        idx = p.derived("app.import-index", lambda: _import_index(p))
        py_hits = {i for m in py for i in idx.get(m, ())}
        js_hits = {i for m in js for i in idx.get(m, ())}
        return sorted({i for i in py_hits if p.code[i].language == PY} | {i for i in js_hits
                                                                         if p.code[i].language != PY})

    return p.derived(("app.importing", py, js), compute)


def any_import(p: Project, test: Callable[[str], Any]) -> bool:
    """Whether some import of the code (or a parent module of one, see :func:`_prefixes`) passes ``test``: each
    distinct module name is tested once, from the project's import index."""
    return any(test(key) for key in p.derived("app.import-index", lambda: _import_index(p)))


def files_importing(p: Project, py: tuple[str, ...], js: tuple[str, ...] | None = None, *, tests: bool = True
                    ) -> list[CodeFile]:
    """Code files (in model order) with an import that :func:`imports_matching` finds among ``py`` (Python files)
    or ``js`` (JavaScript/TypeScript files; ``py`` again when not given); test code left out unless ``tests``."""
    out = [p.code[i] for i in _importing_positions(p, py, py if js is None else js)]
    return out if tests else [cf for cf in out if not is_test(cf.path)]


def importing_in(p: Project, cfs: list[CodeFile], py: tuple[str, ...], js: tuple[str, ...] | None = None
                 ) -> Iterator[tuple[CodeFile, tuple[str, int]]]:
    """Each of ``cfs`` (in their order) that imports one of ``py``/``js`` (as :func:`files_importing`), with the
    import :func:`imports_matching` gives; the other files are passed over with a set lookup."""
    py, js = tuple(py), tuple(py if js is None else js)  # (memo keys)
    have = p.derived(("app.importing-ids", py, js), lambda: {id(cf) for cf in files_importing(p, py, js)})
    for cf in cfs:
        if id(cf) in have:
            yield cf, imports_matching(cf, py if cf.language == PY else js)  # type: ignore[misc]


def first_importing(p: Project, cfs: list[CodeFile], py: tuple[str, ...], js: tuple[str, ...] | None = None
                    ) -> tuple[CodeFile, tuple[str, int]] | None:
    """The first of ``cfs`` that imports one of ``py``/``js`` (see :func:`importing_in`), with that import."""
    return next(importing_in(p, cfs, py, js), None)


def import_hits(p: Project, py: tuple[str, ...], js: tuple[str, ...], *, tests: bool = False
                ) -> list[tuple[Loc, str, CodeFile]]:
    out = []
    for cf in files_importing(p, py, js, tests=tests):
        hit = imports_matching(cf, py if cf.language == PY else js)
        out.append((Loc(cf.path, hit[1]), hit[0], cf))  # type: ignore[index]
    return out


def code_positions(p: Project) -> dict[int, int]:
    """``id(code file)`` -> its position in ``p.code`` (built once per project), to put findings gathered from
    several indexes back in model order."""
    return p.derived("app.code-positions", lambda: {id(cf): i for i, cf in enumerate(p.code)})


def in_model_order(p: Project, *groups: list[CodeFile]) -> list[CodeFile]:
    """The code files of ``groups`` (each a subset of ``p.code``), once each, in model order."""
    pos = code_positions(p)
    return sorted({id(cf): cf for g in groups for cf in g}.values(), key=lambda cf: pos[id(cf)])


_CALL_BITS = 32  # a call's position is one int: file position << _CALL_BITS | position in the file's calls
_CALL_MASK = (1 << _CALL_BITS) - 1


def _call_index(p: Project) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(callee name -> positions of its calls, receiver -> positions of the calls made on it), positions as in
    ``_CALL_BITS``, in model order (the receivers in the same pass: the few controls that look at them need not
    walk every call again)."""
    idx: dict[str, list[int]] = {}
    by_recv: dict[str, list[int]] = {}
    for i, cf in enumerate(p.code):
        base = i << _CALL_BITS
        for j, c in enumerate(cf.facts.calls):
            got = idx.get(c.name)
            if got is None:
                idx[c.name] = [base | j]
            else:
                got.append(base | j)
            if c.recv:
                by_recv.setdefault(c.recv, []).append(base | j)
    return idx, by_recv


def _calls_named(p: Project, name_test: Callable[[str], Any], recv_test: Callable[[str], Any] | None = None
                 ) -> list[int]:
    """Positions (in model order) of the calls whose callee name passes ``name_test`` (or whose receiver passes
    ``recv_test``)."""
    idx, by_recv = p.derived("app.call-index", lambda: _call_index(p))
    runs = [poss for name, poss in idx.items() if name_test(name)]
    if recv_test is not None:
        runs += [poss for recv, poss in by_recv.items() if recv_test(recv)]
        return sorted(set().union(*runs))
    if len(runs) == 1:
        return runs[0]
    return sorted([pos for run in runs for pos in run])  # (sorted runs: a merge)


def calls_where(p: Project, name_test: Callable[[str], Any], *, tests: bool = True,
                recv_test: Callable[[str], Any] | None = None) -> list[tuple[CodeFile, Any]]:
    """(file, call) for every call of the code (test code left out unless ``tests``) whose resolved callee name passes
    ``name_test`` (or, given ``recv_test``, whose receiver passes it), in model order (file by file, then call by
    call): the same calls, in the same order, as walking every file's ``facts.calls`` and keeping those that pass.
    The test runs once per distinct callee name over an index built once per project, instead of once per call in
    every control that looks for a few callees."""
    code = p.code
    out = [(cf := code[pos >> _CALL_BITS], cf.facts.calls[pos & _CALL_MASK])
           for pos in _calls_named(p, name_test, recv_test)]
    return out if tests else [(cf, c) for cf, c in out if not is_test(cf.path)]


def files_calling(p: Project, name_test: Callable[[str], Any]) -> list[CodeFile]:
    """Code files (in model order, test code included) with a call whose callee name passes ``name_test``."""
    code = p.code
    return [code[i] for i in sorted({pos >> _CALL_BITS for pos in _calls_named(p, name_test)})]


class _DefIndex:
    """Where each name is defined or used as a decorator in the project's code: Python function decorators,
    JavaScript/TypeScript decorators, Python assignment targets, class and function names, each name -> positions
    (in ``p.code``, then in the file's list). Built in one pass per project: the controls that look for a few
    names test each distinct name once instead of walking every file's facts."""

    def __init__(self, code: list[CodeFile]) -> None:
        self.py_decorators: dict[str, list[tuple[int, int, int]]] = {}  # -> (file, function, decorator)
        self.py_decorator_refs: dict[str, list[tuple[int, int, int]]] = {}  # a name in a decorator's arguments
        self.js_decorators: dict[str, list[tuple[int, int]]] = {}  # -> (file, decorator)
        self.assigns: dict[str, list[tuple[int, int]]] = {}  # target -> (file, assignment)
        self.classes: dict[str, list[tuple[int, int]]] = {}  # -> (file, class)
        self.class_bases: dict[str, list[tuple[int, int]]] = {}  # a base class -> (file, class)
        self.functions: dict[str, list[tuple[int, int]]] = {}  # -> (file, function)
        self.param_calls: list[tuple[int, int]] = []  # (file, function) of every function with ``param_calls``
        for i, cf in enumerate(code):
            facts = cf.facts
            if cf.language != PY:
                for k, d in enumerate(facts.decorators):
                    self.js_decorators.setdefault(d.name, []).append((i, k))
                continue
            for j, fn in enumerate(facts.functions):
                self.functions.setdefault(fn.name, []).append((i, j))
                for k, d in enumerate(fn.decorators):
                    self.py_decorators.setdefault(d.name, []).append((i, j, k))
                    for r in d.refs:
                        self.py_decorator_refs.setdefault(r, []).append((i, j, k))
                if fn.param_calls:
                    self.param_calls.append((i, j))
            for j, a in enumerate(facts.assigns):
                self.assigns.setdefault(a.target, []).append((i, j))
            for j, c in enumerate(facts.classes):
                self.classes.setdefault(c[0], []).append((i, j))
                for b in c[2]:
                    self.class_bases.setdefault(b, []).append((i, j))


def _defs(p: Project) -> _DefIndex:
    return p.derived("app.def-index", lambda: _DefIndex(p.code))


def _selected(p: Project, table: dict[str, list], name_test: Callable[[str], Any], tests: bool) -> list[tuple]:
    """The positions of ``table`` under the names passing ``name_test``, in model order; test code left out unless
    ``tests``."""
    sel = sorted(pos for name, poss in table.items() if name_test(name) for pos in poss)
    return sel if tests else [pos for pos in sel if not is_test(p.code[pos[0]].path)]


def py_decorators_where(p: Project, name_test: Callable[[str], Any], *, refs: bool = False, tests: bool = False
                        ) -> list[tuple[CodeFile, Function, Any]]:
    """(file, function, decorator) for every decorator of a Python function whose name passes ``name_test`` (or,
    with ``refs``, one of the names in its arguments), in model order (file by file, function by function,
    decorator by decorator); test code left out unless ``tests``: the same as walking ``cf.facts.functions`` and
    their ``decorators`` in every file of ``code(p, tests=...)``."""
    idx = _defs(p)
    sel = _selected(p, idx.py_decorators, name_test, tests)
    if refs:
        sel = sorted(set(sel).union(_selected(p, idx.py_decorator_refs, name_test, tests)))
    out = []
    for i, j, k in sel:
        fn = p.code[i].facts.functions[j]
        out.append((p.code[i], fn, fn.decorators[k]))
    return out


def js_decorators_where(p: Project, name_test: Callable[[str], Any], *, tests: bool = False
                        ) -> list[tuple[CodeFile, Any]]:
    """(file, decorator) for every JavaScript/TypeScript decorator whose name passes ``name_test``, in model order."""
    return [(p.code[i], p.code[i].facts.decorators[k])
            for i, k in _selected(p, _defs(p).js_decorators, name_test, tests)]


def assigns_where(p: Project, target_test: Callable[[str], Any], *, tests: bool = False) -> list[tuple[CodeFile, Any]]:
    """(file, assignment) for every Python assignment whose target passes ``target_test``, in model order."""
    return [(p.code[i], p.code[i].facts.assigns[j]) for i, j in _selected(p, _defs(p).assigns, target_test, tests)]


def classes_where(p: Project, name_test: Callable[[str], Any], *, tests: bool = False) -> list[tuple[CodeFile, tuple]]:
    """(file, (name, line, bases)) for every Python class whose name passes ``name_test``, in model order."""
    return [(p.code[i], p.code[i].facts.classes[j]) for i, j in _selected(p, _defs(p).classes, name_test, tests)]


def classes_with_base(p: Project, base_test: Callable[[str], Any], *, tests: bool = False
                      ) -> list[tuple[CodeFile, tuple]]:
    """(file, (name, line, bases)) for every Python class with a base class passing ``base_test``, model order."""
    sel = sorted(set(_selected(p, _defs(p).class_bases, base_test, tests)))
    return [(p.code[i], p.code[i].facts.classes[j]) for i, j in sel]


def functions_where(p: Project, name_test: Callable[[str], Any], *, tests: bool = False
                    ) -> list[tuple[CodeFile, Function]]:
    """(file, function) for every Python function (or method) whose name passes ``name_test``, in model order."""
    return [(p.code[i], p.code[i].facts.functions[j])
            for i, j in _selected(p, _defs(p).functions, name_test, tests)]


def functions_with_param_calls(p: Project, *, tests: bool = False) -> list[tuple[CodeFile, Function]]:
    """(file, function) for every Python function with calls in its parameters (``Depends(...)``), model order."""
    sel = _defs(p).param_calls
    return [(p.code[i], p.code[i].facts.functions[j]) for i, j in sel if tests or not is_test(p.code[i].path)]


def unit_of(p: Project, path: str) -> str:
    """``p.unit_root(path)``, remembered per path and per directory (the answer depends on the directory only):
    thousands of files share a few hundred directories, and controls ask again for the same files."""
    by_path = p.derived("app.unit-by-path", dict)
    unit = by_path.get(path)
    if unit is None:
        memo = p.derived("app.unit-by-dir", dict)
        d = path.rsplit("/", 1)[0] if "/" in path else ""
        unit = memo.get(d)
        if unit is None:
            unit = memo[d] = p.unit_root(path)
        by_path[path] = unit
    return unit


def service_groups(p: Project) -> dict[tuple[str, str], list[HttpApp]]:
    """HTTP apps grouped by (framework, build unit): one service's routes are often split over files (computed once
    per project; the lists are shared, read them only)."""
    def compute() -> dict[tuple[str, str], list[HttpApp]]:
        groups: dict[tuple[str, str], list[HttpApp]] = {}
        for app in p.http_apps:
            if is_test(app.path):
                continue
            groups.setdefault((app.framework, unit_of(p, app.path)), []).append(app)
        return groups

    return dict(p.derived("app.service-groups", compute))


def service_routes(p: Project, fw: str, unit: str) -> list[tuple[HttpApp, Route, Function | None]]:
    """(app, route, handler function) of every route of one service group of :func:`service_groups`, in app and
    route order; the handler (:func:`route_function`) only for FastAPI and Flask, else None. Listed once per
    project: several controls walk every route of every service (read the list only)."""
    def compute() -> dict[tuple[str, str], list]:
        out = {}
        by_path = _code_by_path(p)
        for (fw_, unit_), apps in service_groups(p).items():
            if fw_ in ("fastapi", "flask"):  # (each route once: as route_function, without its memo)
                out[(fw_, unit_)] = [(app, r, _route_function(p, r, by_path)) for app in apps for r in app.routes]
            else:
                out[(fw_, unit_)] = [(app, r, None) for app in apps for r in app.routes]
        return out

    return p.derived("app.service-routes", compute).get((fw, unit), [])


def unit_code(p: Project, unit: str) -> list[CodeFile]:
    """Non-test code files of one build unit ("" = the repository root and everything outside units); the index is
    built once per project, so per-service lookups stay linear on monorepos."""
    return _unit_index(p).get(unit, [])


def code_units(p: Project) -> list[str]:
    """The build units that hold non-test code (see :func:`unit_code`)."""
    return list(_unit_index(p))


def _unit_index(p: Project) -> dict[str, list[CodeFile]]:
    idx = getattr(p, "_app_unit_index", None)
    if idx is None or idx[0] != len(p.code):
        by_unit: dict[str, list[CodeFile]] = {}
        for cf in code(p):
            by_unit.setdefault(unit_of(p, cf.path), []).append(cf)
        idx = (len(p.code), by_unit)
        p._app_unit_index = idx  # type: ignore[attr-defined]
    return idx[1]


def route_function(p: Project, app: HttpApp, route: Route) -> Function | None:
    """The Python function that handles ``route`` (FastAPI/Flask decorators); looked up once per route and
    remembered for the other controls that ask."""
    memo = p.derived("app.route-functions", dict)
    hit = memo.get(id(route))
    if hit is None or hit[0] is not route:  # (the route is kept with its id, so the id stays its own)
        hit = memo[id(route)] = (route, _route_function(p, route))
    return hit[1]


def _route_function(p: Project, route: Route, by_path: dict[str, CodeFile] | None = None) -> Function | None:
    """(``by_path``: :func:`code_by_path`, when the caller has it at hand.)"""
    handler = route.handler
    if handler is None:
        return None
    cf = (by_path if by_path is not None else _code_by_path(p)).get(route.loc.path)
    if cf is None or cf.language != PY:
        return None
    best = None
    line = route.loc.line or 0
    for fn in cf.facts.functions:
        if fn.name == handler and fn.line >= line and (best is None or fn.line < best.line):
            best = fn
    return best


def code_by_path(p: Project) -> dict[str, CodeFile]:
    """Code files by path (built once per project)."""
    return _code_by_path(p)


def _code_by_path(p: Project) -> dict[str, CodeFile]:
    idx = getattr(p, "_app_code_index", None)
    if idx is None or len(idx) != len(p.code):
        idx = {cf.path: cf for cf in p.code}
        p._app_code_index = idx  # type: ignore[attr-defined]
    return idx


def js_route_call(p: Project, route: Route):
    """The JsCall that registered an Express/Fastify route (same file, same line)."""
    cf = _code_by_path(p).get(route.loc.path)
    if cf is None or cf.language == PY:
        return None
    for c in cf.facts.calls:
        if c.line == route.loc.line and c.args and c.args[0] == ("lit", route.path):
            return c
    return None


def nginx_directives(tree) -> Iterator[tuple[Any, list]]:
    """(directive, ancestors) for every directive of an nginx tree."""
    stack = [(d, []) for d in reversed(tree or [])]
    while stack:
        d, anc = stack.pop()
        yield d, anc
        if d.block:
            stack.extend((c, anc + [d]) for c in reversed(d.block))


# --- Terraform ----------------------------------------------------------------------------------

@dataclass
class TfResource:
    path: str
    type: str
    name: str
    body: dict
    line: int | None
    block: str = "resource"  # resource | data | module

    @property
    def loc(self) -> Loc:
        return Loc(self.path, self.line)

    @property
    def ref(self) -> str:
        return f"{self.type}.{self.name}" if self.block != "module" else f"module.{self.name}"


def unquote(x: Any) -> Any:
    if isinstance(x, str):
        if len(x) >= 2 and x[0] == '"' and x[-1] == '"':
            return x[1:-1]
        return x
    if isinstance(x, dict):
        return {unquote(k): unquote(v) for k, v in x.items() if k != "__is_block__"}
    if isinstance(x, list):
        return [unquote(v) for v in x]
    return x


def tf_resources(p: Project, *types: str) -> list[TfResource]:
    """Terraform resources (and module calls, as type ``module``), optionally only of ``types`` (a type ending in
    ``*`` is a prefix)."""
    allr = getattr(p, "_app_tf_index", None)
    if allr is None:
        allr = []
        for path, doc in p.terraform.items():
            text = p.sources.get(path, "")
            for block in ("resource", "data", "module"):
                entries = doc.get(block) if isinstance(doc, dict) else None
                for entry in entries if isinstance(entries, list) else [entries] if isinstance(entries, dict) else []:
                    if not isinstance(entry, dict):
                        continue
                    if block == "module":
                        for name, body in entry.items():
                            n = unquote(name)
                            m = re.search(rf'module\s+"{re.escape(n)}"', text)
                            allr.append(TfResource(path, "module", n, unquote(body) if isinstance(body, dict) else {},
                                                   text.count("\n", 0, m.start()) + 1 if m else None, "module"))
                        continue
                    for rtype, named in entry.items():
                        t = unquote(rtype)
                        for name, body in (named.items() if isinstance(named, dict) else []):
                            n = unquote(name)
                            m = re.search(rf'{block}\s+"{re.escape(t)}"\s+"{re.escape(n)}"', text)
                            allr.append(TfResource(path, t, n, unquote(body) if isinstance(body, dict) else {},
                                                   text.count("\n", 0, m.start()) + 1 if m else None, block))
        p._app_tf_index = allr  # type: ignore[attr-defined]
    if not types:
        return [r for r in allr if r.block != "data"]
    exact = {t for t in types if not t.endswith("*")}
    prefixes = tuple(t[:-1] for t in types if t.endswith("*"))
    return [r for r in allr if r.block != "data" and (r.type in exact or (prefixes and r.type.startswith(prefixes)))]


def tf_get(body: dict, *path: str) -> Any:
    """Nested attribute of a Terraform body; blocks are lists of dicts (the first is used)."""
    cur: Any = body
    for k in path:
        if isinstance(cur, list):
            cur = cur[0] if cur else None
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    if isinstance(cur, list) and len(cur) == 1 and isinstance(cur[0], dict):
        return cur[0]
    return cur


def truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() in ("true", "yes", "on", "1", "enabled"))


def as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*\d+\s*", v):
        return int(v)
    return None


# --- workloads and datastores -------------------------------------------------------------------

DATASTORE_KINDS = {
    "postgres": re.compile(r"(^|/)(postgres|postgresql|timescaledb|postgis|pgvector|spilo[^/]*|"
                           r"bitnami/postgresql[^/]*|cloudnative-pg/postgresql|crunchy-postgres[^/]*)$", re.I),
    "mysql": re.compile(r"(^|/)(mysql|mariadb|percona[^/]*)$", re.I),
    "redis": re.compile(r"(^|/)(redis|valkey|keydb|redis-stack[^/]*|bitnami/redis[^/]*)$", re.I),
    "kafka": re.compile(r"(^|/)(kafka|cp-kafka|cp-server|kafka-[^/]*broker|bitnami/kafka|redpanda|strimzi/kafka)$",
                        re.I),
    "zookeeper": re.compile(r"(^|/)(zookeeper|cp-zookeeper)$", re.I),
    "mongodb": re.compile(r"(^|/)(mongo|mongodb|mongodb-community-server)$", re.I),
    "elasticsearch": re.compile(r"(^|/)(elasticsearch|opensearch)$", re.I),
    "clickhouse": re.compile(r"(^|/)(clickhouse-server|clickhouse)$", re.I),
    "minio": re.compile(r"(^|/)(minio)$", re.I),
    "rabbitmq": re.compile(r"(^|/)(rabbitmq)$", re.I),
}


@lru_cache(maxsize=16384)  # a pure function of the image name, asked for every container by several controls
def datastore_kind(image_repo: str | None) -> str | None:
    if not image_repo:
        return None
    for kind, rx in DATASTORE_KINDS.items():
        if rx.search(image_repo):
            return kind
    return None


@dataclass
class Datastore:
    kind: str
    workload: Workload
    container: Any

    @property
    def ref(self) -> str:
        return self.workload.ref


def datastores(p: Project, *kinds: str, production: bool = True) -> list[Datastore]:
    """Datastore servers the repository runs itself (Kubernetes workloads and Compose services; Compose files judged
    to be local development environments are left out when ``production``). Computed once per question."""
    def compute() -> list[Datastore]:
        out = []
        for w, found in _datastore_containers(p):
            if production and w.dev_only:
                continue
            for c, k in found:
                if not kinds or k in kinds:
                    out.append(Datastore(k, w, c))
                    break
        return out

    return list(p.derived(("app.datastores", kinds, production), compute))


def _datastore_containers(p: Project) -> list[tuple[Workload, list[tuple[Any, str]]]]:
    """(workload, [(container, datastore kind)]) of the long-running workloads with a datastore among their app
    containers, in model order; walked once per project (then each question above filters it)."""
    def compute() -> list[tuple[Workload, list[tuple[Any, str]]]]:
        out = []
        for w in p.workloads:
            if not w.long_running:
                continue
            found = []
            for c in w.containers:
                if not c.init:
                    k = datastore_kind(c.image.repository if c.image else None)
                    if k:
                        found.append((c, k))
            if found:
                out.append((w, found))
        return out

    return p.derived("app.datastore-containers", compute)


def container_args(c) -> str:
    """Command, args and environment of a container as one text, for flag searches."""
    parts = list(c.command)
    raw = c.raw if isinstance(c.raw, dict) else {}
    cmd = raw.get("command")
    if isinstance(cmd, str):
        parts.append(cmd)
    elif isinstance(cmd, list) and not c.command:
        parts += [str(x) for x in cmd]
    for e in c.env:
        parts.append(f"{e.name}={e.value or ''}")
    return " ".join(parts)


@lru_cache(maxsize=256)
def rx(pattern: str, flags: int = re.I) -> re.Pattern:
    return re.compile(pattern, flags)


def search(p: Project, pattern: str, kinds: tuple[str, ...] | None, hints: tuple[str, ...]) -> list[Loc]:
    return p.search_text(pattern, kinds=kinds, hints=hints)


CONFIG_KINDS = ("k8s", "compose", "yaml", "helm-values", "text", "terraform", "json", "shell", "dockerfile",
                "github-workflow", "gitlab-ci", "makefile", "jenkinsfile", "helm-template", "kustomization")
