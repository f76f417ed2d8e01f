"""Facts about a JavaScript/TypeScript module, read with tree-sitter (never executed).

Records imports (``require`` and ``import``) with their local bindings, calls with the callee as
written and resolved through those bindings (``app.use(rateLimit(...))`` → ``express-rate-limit``),
and decorators (NestJS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor

JsArg = tuple[str, Any]  # ("lit", value) | ("name", resolved) | ("call", callee) | ("object", {key: JsArg}) | ("expr", text)


@dataclass
class JsCall:
    name: str  # callee as resolved ("express-rate-limit", "app.use", "express().get")
    line: int
    args: list[JsArg] = field(default_factory=list)
    recv: str | None = None  # callee that built the receiver (for ``app.use`` where ``app = express()``)


@dataclass
class JsFacts:
    imports: dict[str, int] = field(default_factory=dict)  # module specifier -> first line
    calls: list[JsCall] = field(default_factory=list)
    decorators: list[JsCall] = field(default_factory=list)
    env: list[tuple[str, int, bool]] = field(default_factory=list)  # process.env reads: (name, line, required)
    has_error: bool = False
    error_line: int | None = None

    def imports_any(self, *mods: str) -> bool:
        return any(m == p or m.startswith(p + "/") for m in self.imports for p in mods)


@lru_cache(maxsize=4)
def _parser(flavour: str) -> Parser:
    if flavour == "javascript":
        import tree_sitter_javascript as mod

        lang = Language(mod.language())
    else:
        import tree_sitter_typescript as mod

        lang = Language(mod.language_tsx() if flavour == "tsx" else mod.language_typescript())
    return Parser(lang)


def _text(node: Node) -> str:
    text = node.text
    return text.decode("utf-8", "replace") if text is not None else ""


class _Walker:
    def __init__(self) -> None:
        self.facts = JsFacts()
        self.bindings: dict[str, str] = {}  # local name -> module or module.member
        self.var_types: dict[str, str] = {}  # local name -> callee that built it

    def resolve(self, node: Node) -> str:
        t = node.type
        if t == "identifier":
            name = _text(node)
            return self.bindings.get(name, name)
        if t == "member_expression":
            obj = node.child_by_field_name("object")
            prop = node.child_by_field_name("property")
            if obj is not None and prop is not None:
                return f"{self.resolve(obj)}.{_text(prop)}"
        if t == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is not None:
                return self.resolve(fn) + "()"
        if t == "this":
            return "this"
        if t == "parenthesized_expression" and node.named_child_count:
            return self.resolve(node.named_children[0])
        return _text(node)[:80]

    def arg(self, node: Node) -> JsArg:
        t = node.type
        if t == "string":
            return ("lit", _text(node)[1:-1])
        if t == "template_string":
            if any(c.type == "template_substitution" for c in node.named_children):
                return ("template", None)
            return ("lit", _text(node)[1:-1])
        if t == "number":
            try:
                return ("lit", float(_text(node)))
            except ValueError:
                return ("expr", _text(node))
        if t in ("true", "false"):
            return ("lit", t == "true")
        if t in ("identifier", "member_expression"):
            return ("name", self.resolve(node))
        if t == "call_expression":
            fn = node.child_by_field_name("function")
            return ("call", self.resolve(fn) if fn is not None else "<call>")
        if t == "new_expression":
            ctor = node.child_by_field_name("constructor")
            return ("call", self.resolve(ctor) if ctor is not None else "<new>")
        if t == "object":
            out: dict[str, JsArg] = {}
            for pair in node.named_children:
                if pair.type == "pair":
                    k = pair.child_by_field_name("key")
                    v = pair.child_by_field_name("value")
                    if k is not None and v is not None:
                        key = _text(k).strip("'\"")
                        out[key] = self.arg(v)
                elif pair.type == "shorthand_property_identifier":
                    out[_text(pair)] = ("name", _text(pair))
            return ("object", out)
        if t == "array":
            return ("array", [self.arg(c) for c in node.named_children])
        if t == "binary_expression" and "+" in _text(node)[:2000]:
            return ("concat", None)
        return ("expr", _text(node)[:120])

    def walk(self, root: Node, flavour: str) -> None:
        """Hand every node of a kind of interest to its ``on_*`` handler, in document order (depth first,
        parents before children: handlers depend on the bindings earlier ones recorded).

        A tree-sitter query finds those nodes in C, so the thousands of other nodes of a file (identifiers,
        punctuation...) never become Python objects. Its matches come in the depth-first order of the tree,
        one per node since each pattern is a single node. The plain walk below is kept for the (theoretical)
        case where the query cursor gives up."""
        cursor = QueryCursor(_query(flavour))
        matches = cursor.matches(root)
        if cursor.did_exceed_match_limit:
            self.walk_all(root)
            return
        for pattern, captures in matches:
            _PATTERN_HANDLERS[pattern](self, captures["node"][0])

    def walk_all(self, root: Node) -> None:
        """The same visit as :meth:`walk`, by walking the whole tree in Python."""
        stack = [root]
        while stack:
            node = stack.pop()
            handler = _HANDLERS.get(node.type)
            if handler is not None:
                handler(self, node)
            stack.extend(reversed(node.children))

    def on_error(self, node: Node) -> None:
        if not self.facts.has_error:
            self.facts.has_error = True
            self.facts.error_line = node.start_point[0] + 1

    def on_assignment(self, node: Node) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is not None and right is not None and right.type == "call_expression":
            fn = right.child_by_field_name("function")
            if fn is not None:
                self.var_types[_text(left)] = self.resolve(fn)

    def on_member(self, node: Node) -> None:
        obj = node.child_by_field_name("object")
        if obj is not None and obj.end_byte - obj.start_byte == 11 and _text(obj) == "process.env":
            self.on_env(node)

    def on_env(self, node: Node) -> None:
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            name = _text(prop) if prop is not None else ""
        else:
            idx = node.child_by_field_name("index")
            name = _text(idx).strip("'\"`") if idx is not None and idx.type == "string" else ""
        if not name:
            return
        parent = node.parent
        optional = False
        if parent is not None and parent.type == "binary_expression":
            op = parent.child_by_field_name("operator")
            left = parent.child_by_field_name("left")
            optional = op is not None and _text(op) in ("||", "??") and left is not None and left.id == node.id
        self.facts.env.append((name, node.start_point[0] + 1, not optional))

    def on_import(self, node: Node) -> None:
        src = node.child_by_field_name("source")
        if src is None:
            return
        mod = _text(src)[1:-1]
        self.facts.imports.setdefault(mod, node.start_point[0] + 1)
        for clause in node.named_children:
            if clause.type != "import_clause":
                continue
            for c in clause.named_children:
                if c.type == "identifier":  # default import
                    self.bindings[_text(c)] = mod
                elif c.type == "namespace_import":
                    for ident in c.named_children:
                        self.bindings[_text(ident)] = mod
                elif c.type == "named_imports":
                    for spec in c.named_children:
                        if spec.type == "import_specifier":
                            name = spec.child_by_field_name("name")
                            alias = spec.child_by_field_name("alias")
                            if name is not None:
                                self.bindings[_text(alias or name)] = f"{mod}.{_text(name)}"

    def on_declarator(self, node: Node) -> None:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if name is None or value is None:
            return
        while value.type in ("await_expression",) and value.named_child_count:
            value = value.named_children[0]
        if value.type == "call_expression":
            fn = value.child_by_field_name("function")
            args = value.child_by_field_name("arguments")
            if fn is not None and _text(fn) == "require" and args is not None and args.named_child_count:
                first = args.named_children[0]
                if first.type == "string":
                    mod = _text(first)[1:-1]
                    self.facts.imports.setdefault(mod, node.start_point[0] + 1)
                    if name.type == "identifier":
                        self.bindings[_text(name)] = mod
                    elif name.type == "object_pattern":
                        for p in name.named_children:
                            if p.type == "shorthand_property_identifier_pattern":
                                self.bindings[_text(p)] = f"{mod}.{_text(p)}"
                            elif p.type == "pair_pattern":
                                k = p.child_by_field_name("key")
                                v = p.child_by_field_name("value")
                                if k is not None and v is not None:
                                    self.bindings[_text(v)] = f"{mod}.{_text(k)}"
                    return
            if fn is not None and name.type == "identifier":
                self.var_types[_text(name)] = self.resolve(fn)
        elif value.type == "new_expression" and name.type == "identifier":
            ctor = value.child_by_field_name("constructor")
            if ctor is not None:
                self.var_types[_text(name)] = self.resolve(ctor)

    def on_call(self, node: Node) -> None:
        fn = node.child_by_field_name("function") or node.child_by_field_name("constructor")
        args_node = node.child_by_field_name("arguments")
        if fn is None:
            return
        fn_type = fn.type
        if fn_type == "import":  # dynamic import("x")
            return
        name = self.resolve(fn)
        if name == "require":
            return
        recv = None
        if fn_type == "member_expression":
            obj = fn.child_by_field_name("object")
            if obj is not None:
                recv = self.var_types.get(_text(obj))
        args = [self.arg(a) for a in args_node.named_children] if args_node is not None else []
        self.facts.calls.append(JsCall(name, node.start_point[0] + 1, args, recv))

    def on_decorator(self, node: Node) -> None:
        for c in node.named_children:
            if c.type == "call_expression":
                fn = c.child_by_field_name("function")
                args_node = c.child_by_field_name("arguments")
                args = [self.arg(a) for a in args_node.named_children] if args_node is not None else []
                self.facts.decorators.append(JsCall(self.resolve(fn) if fn is not None else "?", node.start_point[0] + 1, args))
            elif c.type in ("identifier", "member_expression"):
                self.facts.decorators.append(JsCall(self.resolve(c), node.start_point[0] + 1, []))


# node type -> handler, for the kinds of node the walk acts on
_HANDLERS = {
    "ERROR": _Walker.on_error,
    "import_statement": _Walker.on_import,
    "variable_declarator": _Walker.on_declarator,
    "assignment_expression": _Walker.on_assignment,
    "call_expression": _Walker.on_call,
    "new_expression": _Walker.on_call,
    "decorator": _Walker.on_decorator,
    "member_expression": _Walker.on_member,
    "subscript_expression": _Walker.on_member,
}


# one single-node pattern per kind of node in _HANDLERS, in that order (a match's pattern index picks the handler)
_PATTERN_HANDLERS = list(_HANDLERS.values())


@lru_cache(maxsize=4)
def _query(flavour: str) -> Query:
    return Query(_parser(flavour).language, " ".join(f"({kind}) @node" for kind in _HANDLERS))


def extract(source: bytes, flavour: str) -> JsFacts:
    """``flavour`` is "javascript", "typescript" or "tsx"."""
    tree = _parser(flavour).parse(source)
    w = _Walker()
    w.walk(tree.root_node, flavour)
    return w.facts
