"""Facts about a Python module, read with ``ast`` (the scanned code is never imported or executed).

The extractor records what controls ask about — imports, calls with their arguments, decorated
functions, module-level assignments — with names resolved through the module's imports, so
``from requests import get as g; g(url)`` is seen as ``requests.get``.
"""

from __future__ import annotations

import ast
import sys
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
# node class to what to do with it (a ``visit_*`` handler, or the generic walk), each walk looks its children's
# handlers up in that dict and calls them directly (constants, the most common leaf, are checked on the spot),
# and nodes that can hold nothing of interest (names, contexts, operators, ``a.b.c`` chains over a name) are
# never entered at all.

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
# ``ast.parse`` builds exactly these classes (never subclasses), so the hot paths test ``node.__class__ is X``
_Name, _Attribute, _Call, _Constant, _JoinedStr = ast.Name, ast.Attribute, ast.Call, ast.Constant, ast.JoinedStr
_List, _Tuple, _Set, _Subscript = ast.List, ast.Tuple, ast.Set, ast.Subscript
_Assign, _AnnAssign, _FormattedValue, _Load = ast.Assign, ast.AnnAssign, ast.FormattedValue, ast.Load
# Nesting depth (in frames of a plain recursive visitor, see "walking" below) from which the walk checks it is
# not nested too deeply (it assumes extract() is called with fewer than recursionlimit - 100 frames above it, as
# it always is), and the frames that visitor used past a node's own visit() (generic_visit(), a leaf's
# visit_Constant()), so that the check gives up where that visitor did, within a level
_DEPTH_CHECK_FROM = 100
_DEPTH_MARGIN = 2
_ENV_GETTERS = frozenset({"os.getenv", "os.environ.get", "os.environ.setdefault"})


class _Extractor:
    __slots__ = ("facts", "calls", "strings", "env", "aliases", "var_types", "func_stack", "class_stack",
                 "depth_limit")

    def __init__(self) -> None:
        self.facts = facts = PyFacts()
        self.calls, self.strings, self.env = facts.calls, facts.strings, facts.env  # appended to for most nodes
        self.aliases: dict[str, str] = {}
        self.var_types: dict[str, str] = {}
        self.func_stack: list[Function] = []
        self.class_stack: list[str] = []
        self.depth_limit = _DEPTH_CHECK_FROM  # see _check_depth

    # --- names -------------------------------------------------------------------------------
    # dotted/arg/make_call run for nearly every node of interest, so they test the exact node class with the
    # common cases first.
    def dotted(self, node: ast.AST) -> str | None:
        cls = node.__class__
        if cls is _Name:  # the common case: a bare name
            head = node.id
            return self.aliases.get(head, head)
        if cls is _Attribute:
            value = node.value
            if value.__class__ is _Name:  # the next most common: name.attr
                head = value.id
                return self.aliases.get(head, head) + "." + node.attr
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
        if cls is _List or cls is _Tuple or cls is _Set:
            items = [self.arg(e) for e in node.elts]
            if all(k == "lit" for k, _ in items):
                return ("lit", [v for _, v in items])
            return ("expr", [v if k == "lit" else f"<{k}>" for k, v in items])
        if cls is ast.Dict:
            try:
                return ("lit", ast.literal_eval(node))
            except (ValueError, TypeError, SyntaxError, RecursionError):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                return ("expr", {"keys": keys})
        if cls is ast.BinOp:
            if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                return ("percent", None)
            if isinstance(node.op, ast.Add) and _has_str(node):
                return ("concat", None)
        if cls is ast.UnaryOp and isinstance(node.operand, ast.Constant):
            try:
                return ("lit", ast.literal_eval(node))
            except (ValueError, TypeError, SyntaxError):
                pass
        return ("expr", None)

    def make_call(self, node: ast.Call) -> Call:
        aliases = self.aliases
        func = node.func
        cls = func.__class__
        recv = None
        if cls is _Name:
            head = func.id
            name = aliases.get(head, head)
        elif cls is _Attribute and func.value.__class__ is _Name:  # name.method(...), as dotted() would do
            head = func.value.id
            name = aliases.get(head, head) + "." + func.attr
            recv = self.var_types.get(head)
        else:
            name = self.dotted(func) or "<dynamic>"
            if cls is _Attribute:
                base = func.value
                if base.__class__ is _Attribute and base.value.__class__ is _Name and base.value.id == "self":
                    recv = self.var_types.get("self." + base.attr)
        # args, kwargs and refs (the arguments' refs first, then the keywords'), as arg() and _refs() give them;
        # literals (no refs) and names (their own ref; never empty) are by far the most common, and done here
        refs: list[str] = []
        args: list[Arg] = []
        for a in node.args:
            cls = a.__class__
            if cls is _Constant:
                args.append(("lit", a.value))
            elif cls is _Name:
                head = a.id
                ref = aliases.get(head, head)
                refs.append(ref)
                args.append(("name", ref))
            else:
                args.append(self._arg_refs(a, refs))
        kwargs: dict[str, Arg] = {}
        for kw in node.keywords:
            a = kw.value
            cls = a.__class__
            if cls is _Constant:
                value = ("lit", a.value)
            elif cls is _Name:
                head = a.id
                ref = aliases.get(head, head)
                refs.append(ref)
                value = ("name", ref)
            else:
                value = self._arg_refs(a, refs)
            kwargs[kw.arg if kw.arg is not None else "**"] = value
        stack = self.func_stack
        return Call(name, node.lineno, args, kwargs, recv, stack[-1].name if stack else None, refs)

    def _arg_refs(self, node: ast.AST, refs: list[str]) -> Arg:
        """``arg(node)``, adding ``_refs(node, refs, 2)`` to ``refs`` on the way."""
        if node.__class__ is _JoinedStr:  # no refs in an f-string
            return ("fstring", None)
        self._refs(node, refs, 2)
        return self.arg(node)

    def _refs(self, node: ast.AST, out: list[str], depth: int) -> None:
        """Dotted names and callees mentioned in an argument: ``[Depends(auth.verify)]`` -> Depends, auth.verify."""
        cls = node.__class__
        if cls is _Name or cls is _Attribute:
            d = self.dotted(node)
            if d:
                out.append(d)
        elif cls is _Call:
            d = self.dotted(node.func)
            if d:
                out.append(d)
            if depth > 0:
                depth -= 1
                for a in node.args:
                    self._refs(a, out, depth)
                for kw in node.keywords:
                    self._refs(kw.value, out, depth)
        elif depth > 0:
            if cls is _List or cls is _Tuple or cls is _Set:
                for e in node.elts[:20]:
                    self._refs(e, out, depth - 1)
            elif cls is _Subscript:  # Annotated[User, Depends(current_user)]
                self._refs(node.value, out, depth - 1)
                self._refs(node.slice, out, depth - 1)

    def ann(self, node: ast.AST | None, depth: int = 0) -> str | None:
        """An annotation as text with names resolved (``list[OrderOut]``, ``fastapi.Request``)."""
        if node is None or depth > 6:
            return None
        cls = node.__class__
        if cls is _Name or cls is _Attribute:
            return self.dotted(node)
        if cls is _Constant:
            return str(node.value)
        if cls is _Subscript:
            inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return f"{self.ann(node.value, depth + 1)}[{', '.join(self.ann(e, depth + 1) or '?' for e in inner)}]"
        if cls is ast.BinOp and isinstance(node.op, ast.BitOr):
            return f"{self.ann(node.left, depth + 1)} | {self.ann(node.right, depth + 1)}"
        if cls is _Call:
            return (self.dotted(node.func) or "?") + "()"
        return None

    # --- walking -----------------------------------------------------------------------------
    # Every handler gets the node and ``depth``, and walks into the children itself, looking their handlers up in
    # _ROUTE (a child whose class is absent holds nothing). ``depth`` counts the stack frames a plain recursive
    # visitor (``ast.NodeVisitor``: visit() then generic_visit() per level, and a visit_* handler in between for
    # the classes that have one) would be using at that node. That visitor ran out of Python's recursion limit
    # on pathologically nested code, which has always been reported as "structure nested too deeply"; this walk
    # uses fewer frames per level, so it keeps that count and gives up where the plain visitor did.
    def visit(self, node: ast.AST, depth: int) -> None:
        step = _ROUTE.get(node.__class__)
        if step is not None:
            step(self, node, depth)

    def generic_visit(self, node: ast.AST, depth: int) -> None:
        """Visit the children of ``node`` in field order (as ``ast.NodeVisitor.generic_visit`` does)."""
        if depth > self.depth_limit:
            self._check_depth(depth)
        depth += 2  # the children of a plain visitor's visit() + generic_visit()
        route = _ROUTE
        for name in _CHILD_FIELDS[node.__class__]:
            value = getattr(node, name, None)
            cls = value.__class__
            if cls is list:
                if value:
                    self._visit_all(value, depth)
            elif cls is _Constant:  # the most common leaf: visit_Constant, inline
                text = value.value
                if text.__class__ is str and "://" in text and len(text) < 2000:
                    self.strings.append((value.lineno, text))
            else:
                step = route.get(cls)
                if step is not None:
                    step(self, value, depth)

    def _visit_value(self, node: ast.AST, depth: int) -> None:
        """generic_visit() for the many classes whose only child is ``value`` (Expr, Return, Await, keyword...)."""
        value = node.value
        cls = value.__class__
        if cls is _Constant:  # the most common leaf: visit_Constant, inline
            text = value.value
            if text.__class__ is str and "://" in text and len(text) < 2000:
                self.strings.append((value.lineno, text))
        else:
            step = _ROUTE.get(cls)
            if step is not None:
                step(self, value, depth + 2)

    def _visit_all(self, nodes: list[ast.AST], depth: int) -> None:
        """Visit each node of a list (found at ``depth``)."""
        route = _ROUTE
        for item in nodes:
            cls = item.__class__
            if cls is _Constant:  # the most common leaf: visit_Constant, inline
                value = item.value
                if value.__class__ is str and "://" in value and len(value) < 2000:
                    self.strings.append((item.lineno, value))
                continue
            step = route.get(cls)
            if step is not None:
                step(self, item, depth)

    def _check_depth(self, depth: int) -> None:
        """Raise RecursionError if the plain visitor would have run out of stack at ``depth``. Called only past
        depth_limit, which starts low: the first call works out the real limit, from the recursion limit and the
        frames of extract() and its callers (a walk up the stack, once per file, and only for nested code)."""
        frame = sys._getframe()
        while frame is not None and frame.f_code is not _EXTRACT_CODE:  # this walk's own frames
            frame = frame.f_back
        above = 0
        while frame is not None:
            above += 1
            frame = frame.f_back
        self.depth_limit = sys.getrecursionlimit() - above - _DEPTH_MARGIN
        if depth > self.depth_limit:
            raise RecursionError("maximum recursion depth exceeded (nested too deeply)")

    # --- visitors ----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import, depth: int) -> None:
        imports, aliases, line = self.facts.imports, self.aliases, node.lineno
        for a in node.names:
            name = a.name
            imports.setdefault(name, line)
            if a.asname:
                aliases[a.asname] = name
            else:
                head = name.split(".")[0]
                aliases.setdefault(head, head)

    def visit_ImportFrom(self, node: ast.ImportFrom, depth: int) -> None:
        imports, aliases, line = self.facts.imports, self.aliases, node.lineno
        mod = ("." * node.level) + (node.module or "")
        imports.setdefault(mod, line)
        for a in node.names:
            full = f"{mod}.{a.name}" if mod else a.name
            imports.setdefault(full, line)
            aliases[a.asname or a.name] = full

    def visit_Call(self, node: ast.Call, depth: int) -> None:
        if depth > self.depth_limit:
            self._check_depth(depth)
        call = self.make_call(node)
        name = call.name
        self.calls.append(call)
        if name in _ENV_GETTERS:
            args = call.args
            if args and args[0][0] == "lit" and isinstance(args[0][1], str):
                self.env.append((args[0][1], node.lineno, False))
        if self.func_stack:
            self.func_stack[-1].calls_names.append(name)
        # the children, in field order: func, args, keywords (a keyword's only child is its value)
        route = _ROUTE
        depth += 3  # the children of a plain visitor's visit() + visit_Call() + generic_visit()
        child = node.func
        cls = child.__class__
        if cls is _Attribute:
            if child.value.__class__ is not _Name:  # nothing to see in name.method
                self.visit_Attribute(child, depth)
        elif cls is not _Name:
            step = route.get(cls)
            if step is not None:
                step(self, child, depth)
        for child in node.args:
            cls = child.__class__
            if cls is _Constant:  # as visit_Constant, for the most common argument
                value = child.value
                if value.__class__ is str and "://" in value and len(value) < 2000:
                    self.strings.append((child.lineno, value))
                continue
            step = route.get(cls)
            if step is not None:
                step(self, child, depth)
        for kw in node.keywords:
            child = kw.value
            step = route.get(child.__class__)
            if step is not None:
                step(self, child, depth + 2)

    def visit_Attribute(self, node: ast.Attribute, depth: int) -> None:
        # ``a.b.c``: only the innermost value can hold anything (``f().b``, ``"{}".format``), and only if it
        # is not a bare name
        value = node.value
        while value.__class__ is _Attribute:
            value = value.value
            depth += 2
        if depth > self.depth_limit:  # the innermost attribute's depth
            self._check_depth(depth)
        step = _ROUTE.get(value.__class__)
        if step is not None:
            step(self, value, depth + 2)

    def _visit_func(self, node: ast.FunctionDef | ast.AsyncFunctionDef, depth: int) -> None:
        if depth > self.depth_limit:
            self._check_depth(depth)
        depth += 2  # the children of a plain visitor's visit() + visit_FunctionDef()
        decorators = []
        for d in node.decorator_list:
            if d.__class__ is _Call:
                decorators.append(self.make_call(d))
                self._visit_all(d.args, depth)  # the arguments are walked, the decorator's callee is not
                for kw in d.keywords:
                    self._visit_value(kw, depth - 2)
            else:
                name = self.dotted(d) or "<dynamic>"
                recv = None
                if d.__class__ is _Attribute and d.value.__class__ is _Name:
                    recv = self.var_types.get(d.value.id)
                decorators.append(Call(name, d.lineno, [], {}, recv))
        args = node.args
        params = []
        for a in args.args:
            params.append(a.arg)
        for a in args.kwonlyargs:
            params.append(a.arg)
        fn = Function(node.name, node.lineno, decorators, params, node.__class__ is ast.AsyncFunctionDef,
                      [], {}, {}, None, self.class_stack[-1] if self.class_stack else None,
                      getattr(node, "end_lineno", None))
        if decorators or self.class_stack:  # route handlers and views: keep what their parameters say
            if args.posonlyargs or args.args or args.kwonlyargs:
                self._read_params(fn, args)
            if node.returns is not None:
                fn.returns = self.ann(node.returns)
        self.facts.functions.append(fn)
        self.func_stack.append(fn)
        self._visit_all(node.body, depth)  # then the defaults; not the annotations
        if args.defaults:
            self._visit_all(args.defaults, depth)
        for default in args.kw_defaults:
            if default is not None:
                self.visit(default, depth)
        self.func_stack.pop()

    visit_FunctionDef = _visit_func
    visit_AsyncFunctionDef = _visit_func

    def _read_params(self, fn: Function, args: ast.arguments) -> None:
        """Parameter annotations, and the calls in their defaults or ``Annotated[...]``."""
        positional = args.posonlyargs + args.args
        defaults: dict[str, ast.AST] = {}
        if args.defaults:
            for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=False):
                defaults[a.arg] = d
        if args.kwonlyargs:
            for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False):
                if d is not None:
                    defaults[a.arg] = d
            positional += args.kwonlyargs
        for a in positional:
            annotation = a.annotation
            if annotation is not None:
                t = self.ann(annotation)
                if t:
                    fn.param_types[a.arg] = t
            d = defaults.get(a.arg) if defaults else None
            if d.__class__ is _Call:
                fn.param_calls[a.arg] = self.make_call(d)
            elif annotation.__class__ is _Subscript and annotation.slice.__class__ is _Tuple:
                for meta in annotation.slice.elts[1:]:  # Annotated[T, Depends(x)] / Annotated[int, Query(le=9)]
                    if meta.__class__ is _Call:
                        fn.param_calls[a.arg] = self.make_call(meta)

    def visit_ClassDef(self, node: ast.ClassDef, depth: int) -> None:
        bases = [self.dotted(b) or "<expr>" for b in node.bases]
        self.facts.classes.append((node.name, node.lineno, bases))
        prefix = node.name + "."
        for stmt in node.body:
            if stmt.__class__ is _Assign or stmt.__class__ is _AnnAssign:
                self._record_assign(stmt, prefix)
        self.class_stack.append(node.name)
        self.generic_visit(node, depth + 1)  # called from visit_ClassDef, one frame deeper
        self.class_stack.pop()

    def _record_assign(self, node: ast.Assign | ast.AnnAssign, prefix: str = "") -> None:
        """For ``x = Callee(...)``, remember what built x (method calls on x get it as their receiver); outside
        functions, record the assignment itself."""
        value_node = node.value
        if value_node is None:
            return
        targets = node.targets if node.__class__ is _Assign else (node.target,)
        if self.func_stack:  # only the receivers are kept here: nothing to do unless the value is a call
            if value_node.__class__ is _Call:
                callee = self._callee(value_node)
                if callee:
                    for t in targets:
                        if t.__class__ is _Name:
                            self.var_types[t.id] = callee
                        elif t.__class__ is _Attribute and t.value.__class__ is _Name and t.value.id == "self":
                            self.var_types["self." + t.attr] = callee
            return
        value = self.arg(value_node)
        # arg() already resolved the callee: ("call", name), or "<call>" when it has no dotted name
        callee = value[1] if value[0] == "call" and value[1] != "<call>" else None
        for t in targets:
            cls = t.__class__
            if cls is _Name:
                head = t.id
                name = self.aliases.get(head, head)
                if callee:
                    self.var_types[head] = callee
            elif cls is _Attribute:
                name = self.dotted(t)
                if name is None:
                    continue
                if callee and t.value.__class__ is _Name and t.value.id == "self":
                    self.var_types["self." + t.attr] = callee
            else:
                continue
            self.facts.assigns.append(Assign(prefix + name, value, node.lineno))

    def _callee(self, node: ast.Call) -> str | None:
        """The callee's dotted name as ``arg()`` gives it for a call (None for ``"...".format()``)."""
        func = node.func
        if func.__class__ is _Attribute and func.attr == "format" and \
                func.value.__class__ is _Constant and isinstance(func.value.value, str):
            return None
        callee = self.dotted(func)
        return callee if callee != "<call>" else None

    def visit_Subscript(self, node: ast.Subscript, depth: int) -> None:
        key = node.slice
        if key.__class__ is _Constant and isinstance(key.value, str) and node.ctx.__class__ is _Load and \
                self.dotted(node.value) == "os.environ":
            self.env.append((key.value, node.lineno, True))
        self.generic_visit(node, depth + 1)  # called from visit_Subscript, one frame deeper

    def visit_Constant(self, node: ast.Constant, depth: int) -> None:
        value = node.value
        if value.__class__ is str and "://" in value and len(value) < 2000:
            self.strings.append((node.lineno, value))

    def visit_JoinedStr(self, node: ast.JoinedStr, depth: int) -> None:
        parts = [v.value if v.__class__ is _Constant and isinstance(v.value, str) else "{}" for v in node.values]
        text = "".join(parts)
        if "://" in text and len(text) < 2000:
            self.strings.append((node.lineno, text))
        route = _ROUTE
        for v in node.values:
            if v.__class__ is _FormattedValue:  # its expression only, not its format spec
                child = v.value
                step = route.get(child.__class__)
                if step is not None:
                    step(self, child, depth + 2)

    def visit_Assign(self, node: ast.Assign, depth: int) -> None:
        self._record_assign(node)
        for target in node.targets:  # the children in field order: targets, value
            if target.__class__ is not _Name:
                self.visit(target, depth + 3)
        self._visit_value(node, depth + 1)  # called from visit_Assign, one frame deeper

    def visit_AnnAssign(self, node: ast.AnnAssign, depth: int) -> None:
        self._record_assign(node)
        self.generic_visit(node, depth + 1)  # called from visit_AnnAssign, one frame deeper


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
    elif _fields == ("value",):
        _ROUTE[_cls] = _Extractor._visit_value
    elif _fields:
        _ROUTE[_cls] = _Extractor.generic_visit
del _cls, _fields, _handler


def extract(tree: ast.AST) -> PyFacts:
    ex = _Extractor()
    ex.visit(tree, 1)  # a plain visitor's visit(tree) is the first frame below extract()
    return ex.facts


_EXTRACT_CODE = extract.__code__  # where _check_depth stops counting the walk's own frames
