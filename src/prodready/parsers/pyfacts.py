"""Facts about a Python module, read with ``ast`` (the scanned code is never imported or executed).

The extractor records what controls ask about — imports, calls with their arguments, decorated
functions, module-level assignments — with names resolved through the module's imports, so
``from requests import get as g; g(url)`` is seen as ``requests.get``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

# An argument as the controls see it: (kind, value). kind is one of
# "lit" (a literal; value is the Python value), "name" (a resolved dotted name), "call" (value is the callee),
# "fstring", "concat", "format", "percent" (strings built at run time), "expr" (anything else).
Arg = tuple[str, Any]


@dataclass
class Call:
    name: str  # resolved dotted name of the callee ("requests.get", "app.add_middleware")
    line: int
    args: list[Arg] = field(default_factory=list)
    kwargs: dict[str, Arg] = field(default_factory=dict)
    recv: str | None = None  # for method calls: the callee that built the receiver ("fastapi.FastAPI")
    func: str | None = None  # enclosing function name, if any
    refs: list[str] = field(default_factory=list)  # names and callees mentioned in the arguments (one level deep)


@dataclass
class Function:
    name: str
    line: int
    decorators: list[Call]
    params: list[str]
    is_async: bool
    calls_names: list[str] = field(default_factory=list)  # resolved callees inside the body
    param_calls: dict[str, Call] = field(default_factory=dict)  # param -> call in its default or Annotated[...]
    param_types: dict[str, str] = field(default_factory=dict)  # param -> annotation as written (names resolved)
    returns: str | None = None  # return annotation as written (names resolved)
    cls: str | None = None  # enclosing class, for methods
    end_line: int | None = None


@dataclass
class Assign:
    target: str
    value: Arg
    line: int


@dataclass
class PyFacts:
    imports: dict[str, int] = field(default_factory=dict)  # module name -> first line
    calls: list[Call] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    assigns: list[Assign] = field(default_factory=list)  # module-level and class-level simple assignments
    classes: list[tuple[str, int, list[str]]] = field(default_factory=list)  # name, line, resolved bases
    strings: list[tuple[int, str]] = field(default_factory=list)  # URL-like strings ("://"); f-string parts as {}
    env: list[tuple[str, int, bool]] = field(default_factory=list)  # environment reads: (name, line, required)

    def imports_any(self, *prefixes: str) -> bool:
        return any(m == p or m.startswith(p + ".") for m in self.imports for p in prefixes)


# --- tree walking ---------------------------------------------------------------------------------
# The extractor walks the tree in the same order as ``ast.NodeVisitor`` (fields in declaration order, depth
# first) but without its per-node costs: ``NodeVisitor.visit`` builds a method name and looks it up for every
# node, and ``generic_visit`` goes through ``ast.iter_fields`` and visits every leaf. Here one dict maps each
# node class to what to do with it (a ``visit_*`` handler, or the generic walk), and nodes that can hold
# nothing of interest are never entered at all.

# Fields that never hold a node worth entering: identifiers, numbers and strings, expression contexts
# (Load/Store/Del) and operators, which are leaves, and import aliases. (``name`` is an identifier everywhere but
# in 3.12's ``type X = ...``, where it is a bare Name: nothing to see there either.)
_NO_CHILD_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "asname", "module", "level", "name", "names",
                              "conversion", "is_async", "kind", "simple", "tag", "type_comment", "lineno",
                              "kwd_attrs", "rest", "type_ignores"})


def _ast_classes() -> list[type]:
    """Every node class of the running Python's ``ast``."""
    found: list[type] = []
    todo = [ast.AST]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


# node class -> the fields to walk into, for every node class of this Python version
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f for f in getattr(cls, "_fields", ()) if f not in _NO_CHILD_FIELDS) for cls in _ast_classes()
}
_Name, _Attribute, _Call, _Constant, _JoinedStr = ast.Name, ast.Attribute, ast.Call, ast.Constant, ast.JoinedStr


class _Extractor:
    def __init__(self) -> None:
        self.facts = PyFacts()
        self.aliases: dict[str, str] = {}
        self.var_types: dict[str, str] = {}
        self.func_stack: list[Function] = []
        self.class_stack: list[str] = []

    # --- names -------------------------------------------------------------------------------
    # dotted/arg/make_call run for nearly every node of interest, so they test the exact node class
    # (``ast.parse`` builds no subclasses) with the common cases first.
    def dotted(self, node: ast.AST) -> str | None:
        cls = node.__class__
        if cls is _Name:  # the common case: a bare name
            head = node.id
            return self.aliases.get(head, head)
        parts: list[str] = []
        while cls is _Attribute:
            parts.append(node.attr)
            node = node.value
            cls = node.__class__
        if cls is _Name:
            head = node.id
            parts.append(self.aliases.get(head, head))
            return ".".join(reversed(parts))
        if cls is _Call:
            inner = self.dotted(node.func)
            if inner is not None:
                parts.append(inner + "()")
                return ".".join(reversed(parts))
        return None

    def arg(self, node: ast.AST) -> Arg:
        cls = node.__class__
        if cls is _Constant:
            return ("lit", node.value)
        if cls is _Name or cls is _Attribute:
            name = self.dotted(node)
            return ("name", name) if name else ("expr", None)
        if cls is _Call:
            func = node.func
            if func.__class__ is _Attribute and func.attr == "format" and \
                    isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
                return ("format", None)
            return ("call", self.dotted(func) or "<call>")
        if cls is _JoinedStr:
            return ("fstring", None)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.arg(e) for e in node.elts]
            if all(k == "lit" for k, _ in items):
                return ("lit", [v for _, v in items])
            return ("expr", [v if k == "lit" else f"<{k}>" for k, v in items])
        if isinstance(node, ast.Dict):
            try:
                return ("lit", ast.literal_eval(node))
            except (ValueError, TypeError, SyntaxError, RecursionError):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                return ("expr", {"keys": keys})
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                return ("percent", None)
            if isinstance(node.op, ast.Add) and _has_str(node):
                return ("concat", None)
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            try:
                return ("lit", ast.literal_eval(node))
            except (ValueError, TypeError, SyntaxError):
                pass
        return ("expr", None)

    def make_call(self, node: ast.Call) -> Call:
        func = node.func
        name = self.dotted(func) or "<dynamic>"
        recv = None
        if func.__class__ is _Attribute:
            base = func.value
            if isinstance(base, ast.Name) and base.id in self.var_types:
                recv = self.var_types[base.id]
            elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == "self":
                recv = self.var_types.get("self." + base.attr)
        arg = self.arg
        args = node.args
        keywords = node.keywords
        kwargs: dict[str, Arg] = {}
        refs: list[str] = []
        for a in args:
            self._refs(a, refs, 2)
        for kw in keywords:
            value = kw.value
            kwargs[kw.arg if kw.arg is not None else "**"] = arg(value)
            self._refs(value, refs, 2)
        return Call(name, node.lineno, [arg(a) for a in args], kwargs, recv,
                    self.func_stack[-1].name if self.func_stack else None, refs)

    def _refs(self, node: ast.AST, out: list[str], depth: int) -> None:
        """Dotted names and callees mentioned in an argument: ``[Depends(auth.verify)]`` -> Depends, auth.verify."""
        if isinstance(node, (ast.Name, ast.Attribute)):
            d = self.dotted(node)
            if d:
                out.append(d)
        elif isinstance(node, ast.Call):
            d = self.dotted(node.func)
            if d:
                out.append(d)
            if depth > 0:
                for a in list(node.args) + [kw.value for kw in node.keywords]:
                    self._refs(a, out, depth - 1)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and depth > 0:
            for e in node.elts[:20]:
                self._refs(e, out, depth - 1)
        elif isinstance(node, ast.Subscript) and depth > 0:  # Annotated[User, Depends(current_user)]
            self._refs(node.value, out, depth - 1)
            self._refs(node.slice, out, depth - 1)

    def ann(self, node: ast.AST | None, depth: int = 0) -> str | None:
        """An annotation as text with names resolved (``list[OrderOut]``, ``fastapi.Request``)."""
        if node is None or depth > 6:
            return None
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.dotted(node)
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.Subscript):
            inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return f"{self.ann(node.value, depth + 1)}[{', '.join(self.ann(e, depth + 1) or '?' for e in inner)}]"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return f"{self.ann(node.left, depth + 1)} | {self.ann(node.right, depth + 1)}"
        if isinstance(node, ast.Call):
            return (self.dotted(node.func) or "?") + "()"
        return None

    # --- walking -----------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        step = _ROUTE.get(node.__class__)
        if step is not None:
            step(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        """Visit the children of ``node`` in field order (as ``ast.NodeVisitor.generic_visit`` does). Going through
        visit() keeps NodeVisitor's two frames per level of nesting, so pathologically nested code still runs into
        the recursion limit (reported as nested too deeply) where it did before."""
        route = _ROUTE
        visit = self.visit
        for name in _CHILD_FIELDS[node.__class__]:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if item.__class__ in route:
                        visit(item)
            elif value.__class__ in route:
                visit(value)

    # --- visitors ----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.facts.imports.setdefault(a.name, node.lineno)
            if a.asname:
                self.aliases[a.asname] = a.name
            else:
                self.aliases.setdefault(a.name.split(".")[0], a.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = ("." * node.level) + (node.module or "")
        self.facts.imports.setdefault(mod, node.lineno)
        for a in node.names:
            full = f"{mod}.{a.name}" if mod else a.name
            self.facts.imports.setdefault(full, node.lineno)
            self.aliases[a.asname or a.name] = full

    def visit_Call(self, node: ast.Call) -> None:
        call = self.make_call(node)
        self.facts.calls.append(call)
        if call.name in ("os.getenv", "os.environ.get", "os.environ.setdefault") and call.args and \
                call.args[0][0] == "lit" and isinstance(call.args[0][1], str):
            self.facts.env.append((call.args[0][1], node.lineno, False))
        if self.func_stack:
            self.func_stack[-1].calls_names.append(call.name)
        self.generic_visit(node)

    def _visit_func(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        decorators = []
        for d in node.decorator_list:
            if d.__class__ is _Call:
                decorators.append(self.make_call(d))
                for a in d.args:
                    self.visit(a)
                for kw in d.keywords:
                    self.visit(kw.value)
            else:
                name = self.dotted(d) or "<dynamic>"
                recv = None
                if isinstance(d, ast.Attribute) and isinstance(d.value, ast.Name):
                    recv = self.var_types.get(d.value.id)
                decorators.append(Call(name, d.lineno, [], {}, recv))
        args = node.args
        params = [a.arg for a in args.args]
        params.extend(a.arg for a in args.kwonlyargs)
        fn = Function(node.name, node.lineno, decorators, params, isinstance(node, ast.AsyncFunctionDef),
                      cls=self.class_stack[-1] if self.class_stack else None,
                      end_line=getattr(node, "end_lineno", None))
        if decorators or self.class_stack:  # route handlers and views: keep what their parameters say
            positional = args.posonlyargs + args.args
            defaults: dict[str, ast.AST] = {}
            if args.defaults:
                for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=False):
                    defaults[a.arg] = d
            for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False):
                if d is not None:
                    defaults[a.arg] = d
            for a in positional + args.kwonlyargs:
                annotation = a.annotation
                if annotation is not None:
                    t = self.ann(annotation)
                    if t:
                        fn.param_types[a.arg] = t
                d = defaults.get(a.arg)
                if isinstance(d, ast.Call):
                    fn.param_calls[a.arg] = self.make_call(d)
                elif isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple):
                    for meta in annotation.slice.elts[1:]:  # Annotated[T, Depends(x)] / Annotated[int, Query(le=9)]
                        if isinstance(meta, ast.Call):
                            fn.param_calls[a.arg] = self.make_call(meta)
            if node.returns is not None:
                fn.returns = self.ann(node.returns)
        self.facts.functions.append(fn)
        self.func_stack.append(fn)
        visit = self.visit
        for stmt in node.body:
            visit(stmt)
        for default in args.defaults:
            visit(default)
        for default in args.kw_defaults:
            if default is not None:
                visit(default)
        self.func_stack.pop()

    visit_FunctionDef = _visit_func
    visit_AsyncFunctionDef = _visit_func

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [self.dotted(b) or "<expr>" for b in node.bases]
        self.facts.classes.append((node.name, node.lineno, bases))
        for stmt in node.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                self._record_assign(stmt, prefix=node.name + ".")
        self.class_stack.append(node.name)
        self.generic_visit(node)
        self.class_stack.pop()

    def _record_assign(self, node: ast.Assign | ast.AnnAssign, prefix: str = "") -> None:
        if node.value is None:
            return
        value = self.arg(node.value)
        # for `x = Callee(...)`, remember what built x (method calls on x get it as their receiver); arg()
        # already resolved the callee: ("call", name), or "<call>" when it has no dotted name
        callee = value[1] if value[0] == "call" and value[1] != "<call>" else None
        for t in node.targets if node.__class__ is ast.Assign else (node.target,):
            cls = t.__class__
            if cls is not _Name and cls is not _Attribute:
                continue
            name = self.dotted(t)
            if name is None:
                continue
            if callee:
                if cls is _Name:
                    self.var_types[t.id] = callee
                elif isinstance(t.value, ast.Name) and t.value.id == "self":
                    self.var_types["self." + t.attr] = callee
            if not self.func_stack:
                self.facts.assigns.append(Assign(prefix + name, value, node.lineno))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str) and \
                isinstance(node.ctx, ast.Load) and self.dotted(node.value) == "os.environ":
            self.facts.env.append((node.slice.value, node.lineno, True))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "://" in node.value and len(node.value) < 2000:
            self.facts.strings.append((node.lineno, node.value))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        parts = [v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}" for v in node.values]
        text = "".join(parts)
        if "://" in text and len(text) < 2000:
            self.facts.strings.append((node.lineno, text))
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                self.visit(v.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._record_assign(node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._record_assign(node)
        self.generic_visit(node)


def _has_str(node: ast.AST) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            return True
        if isinstance(n, ast.JoinedStr):
            return True
        if isinstance(n, ast.BinOp):
            stack.extend((n.left, n.right))
    return False


# node class -> what the walk does with it: its ``visit_*`` handler if it has one, else the generic walk into
# its children. Classes without a handler and without child fields (Name, Load, operators, alias...) are
# absent: the walk skips them. Built once from the class itself so a new handler is picked up by name.
_ROUTE: dict[type, Any] = {}
for _cls, _fields in _CHILD_FIELDS.items():
    _handler = getattr(_Extractor, "visit_" + _cls.__name__, None)
    if _handler is not None:
        _ROUTE[_cls] = _handler
    elif _fields:
        _ROUTE[_cls] = _Extractor.generic_visit
del _cls, _fields, _handler


def extract(tree: ast.AST) -> PyFacts:
    ex = _Extractor()
    ex.visit(tree)
    return ex.facts
