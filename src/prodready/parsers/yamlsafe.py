"""Safe YAML loading with line numbers, for untrusted repositories.

PyYAML's libyaml-backed composer builds the node graph; before constructing Python objects we walk
that graph once, iteratively, to refuse alias bombs ("billion laughs") and pathological nesting,
which would otherwise make the scan hang or blow the recursion limit. Mappings are constructed as
:class:`YMap` (a ``dict`` that remembers the line of the mapping and of each key) so the model can
point at ``path:line`` for any field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml is present in the PyYAML wheels; fall back to the pure-Python loader if not.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the wheel
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_DEPTH = 200
MAX_EXPANDED_NODES = 500_000


class YMap(dict):
    """A mapping that knows the (1-based) line of itself and of each of its keys."""

    __slots__ = ("line", "key_lines")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line: int | None = None
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)

    def __reduce__(self):  # keep line info through pickling (the parse cache)
        return (_rebuild_ymap, (dict(self), self.line, self.key_lines))


def _rebuild_ymap(data: dict, line: int | None, key_lines: dict) -> YMap:
    m = YMap(data)
    m.line = line
    m.key_lines = key_lines
    return m


class YList(list):
    """A sequence that knows the line of each item (used for containers, env, rules...)."""

    __slots__ = ("line", "item_lines")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line: int | None = None
        self.item_lines: list[int] = []

    def __reduce__(self):
        return (_rebuild_ylist, (list(self), self.line, self.item_lines))


def _rebuild_ylist(data: list, line: int | None, item_lines: list[int]) -> YList:
    seq = YList(data)
    seq.line = line
    seq.item_lines = item_lines
    return seq


class YamlError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class YamlDoc:
    data: Any
    line: int  # first line of the document
    end_line: int


@dataclass
class YamlResult:
    docs: list[YamlDoc] = field(default_factory=list)
    duplicate_keys: list[tuple[str, int]] = field(default_factory=list)
    template_lines: list[int] = field(default_factory=list)  # lines where `{{ ... }}` was read as YAML


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

# Memos shared by every load (values repeat across the files of a repository: `true`, `80`, `name`...).
# Bounded: emptied when full, so memory stays flat on huge trees.
_MEMO_LIMIT = 50_000
_PLAIN_SCALAR_TAGS: dict[str, str] = {}  # plain scalar text -> resolved tag
_SCALAR_VALUES: dict[tuple[str, str], Any] = {}  # (tag, text) -> constructed immutable value (int, bool, None...)
_IMMUTABLE_SCALARS = (int, float, bool, type(None), str)
_ScalarNode, _MappingNode, _SequenceNode = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []
        self.template_lines: list[int] = []

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """PyYAML's resolver, memoised for plain scalars. libyaml's composer calls it for every node and it tries a
        list of regexes each time; yet with no path resolvers (this loader registers none) the tag of a plain
        scalar depends on its text alone, quoted scalars are always strings, and collections get the default."""
        if kind is _ScalarNode:
            if not implicit[0]:
                return _STR_TAG
            tag = _PLAIN_SCALAR_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_PLAIN_SCALAR_TAGS) >= _MEMO_LIMIT:
                    _PLAIN_SCALAR_TAGS.clear()
                _PLAIN_SCALAR_TAGS[value] = tag
            return tag
        if kind is _MappingNode:
            return _MAP_TAG
        if kind is _SequenceNode:
            return _SEQ_TAG
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> YMap:  # type: ignore[override]
        self.flatten_mapping(node)
        mapping = YMap()
        mapping.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                if isinstance(key, dict):  # `{{ .Values.x }}` unquoted reads as a mapping used as a key
                    self.template_lines.append(key_node.start_mark.line + 1)
                key = str(key)
            if key in mapping:
                self.duplicates.append((str(key), key_node.start_mark.line + 1))
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> YList:  # type: ignore[override]
        seq = YList(self.construct_object(child, deep=True) for child in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [child.start_mark.line + 1 for child in node.value]
        return seq


assert not _Loader.yaml_path_resolvers, "the memoised resolve() assumes no path resolvers"
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)
# Timestamps and other implicit types stay strings where it matters less than safety and speed.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _unknown_tag(loader: _Loader, tag_suffix: str, node: yaml.Node) -> Any:
    """Custom tags (!Ref, !!python/object...) are read as plain data, never executed."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _unknown_tag)
_Loader.add_multi_constructor("tag:", _unknown_tag)


def _check_graph(root: yaml.Node) -> None:
    """Refuse documents whose alias expansion or nesting is pathological. Iterative, memoised."""
    sizes: dict[int, int] = {}
    # post-order traversal with an explicit stack: (node, depth, expanded)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, expanded = stack.pop()
        nid = id(node)
        if expanded:
            on_path.discard(nid)
            total = 1
            for child in _children(node):
                total += sizes.get(id(child), 1)
                if total > MAX_EXPANDED_NODES:
                    raise YamlError(
                        f"document expands to more than {MAX_EXPANDED_NODES:,} nodes through aliases "
                        "(possible alias bomb); not evaluated",
                        node.start_mark.line + 1,
                    )
            sizes[nid] = total
            continue
        if nid in sizes:
            continue
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels; not evaluated", node.start_mark.line + 1)
        if nid in on_path:
            raise YamlError("recursive alias; not evaluated", node.start_mark.line + 1)
        on_path.add(nid)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        out: list[yaml.Node] = []
        for k, v in node.value:
            out.append(k)
            out.append(v)
        return out
    return []


class _FastConstructor:
    """Builds YMap/YList/scalars straight from libyaml's node graph: the common tags (str, int, float,
    bool, null, map, seq) without PyYAML's generic constructor machinery, which dominated scan time.
    Anything unusual (merge keys ``<<``, custom or binary tags) is handed to the full loader."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.memo: dict[int, Any] = {}  # id(container node) -> built object: an alias shares what it points to

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        # other scalars go through PyYAML's constructors once per (tag, text); immutable results are memoised
        key = (tag, node.value)
        value = _SCALAR_VALUES.get(key, _MISSING)
        if value is _MISSING:
            value = self.loader.construct_object(node, deep=True)
            if value.__class__ in _IMMUTABLE_SCALARS:
                if len(_SCALAR_VALUES) >= _MEMO_LIMIT:
                    _SCALAR_VALUES.clear()
                _SCALAR_VALUES[key] = value
        return value

    def build(self, node: yaml.Node) -> Any:
        # Plain string scalars, by far the most common node, are read inline by the loops below rather than
        # through a call to build(). Scalars are not memoised by node: an aliased one is simply read again, to an
        # equal immutable value; containers are, so that an alias shares the object it points to.
        cls = node.__class__
        if cls is _ScalarNode:
            return self.scalar(node)
        nid = id(node)
        if nid in self.memo:
            return self.memo[nid]
        tag = node.tag
        if cls is _MappingNode and tag == _MAP_TAG:
            m = _new_ymap(node.start_mark.line + 1)
            self.memo[nid] = m
            lines = m.key_lines
            duplicates = self.loader.duplicates
            for key_node, value_node in node.value:
                key_tag = key_node.tag
                if key_tag == _STR_TAG and key_node.__class__ is _ScalarNode:
                    key = key_node.value
                else:
                    if key_tag == "tag:yaml.org,2002:merge":
                        raise _NeedFullLoader
                    key = self.build(key_node)
                    try:
                        hash(key)
                    except TypeError:
                        if isinstance(key, dict):  # `{{ .Values.x }}` unquoted reads as a mapping used as a key
                            self.loader.template_lines.append(key_node.start_mark.line + 1)
                        key = str(key)
                line = key_node.start_mark.line + 1
                if key in m:
                    duplicates.append((str(key), line))
                if value_node.tag == _STR_TAG and value_node.__class__ is _ScalarNode:
                    m[key] = value_node.value
                else:
                    m[key] = self.build(value_node)
                lines[key] = line
            return m
        if cls is _SequenceNode and tag == _SEQ_TAG:
            seq = _new_ylist(node.start_mark.line + 1)
            self.memo[nid] = seq
            children = node.value
            seq.item_lines = [c.start_mark.line + 1 for c in children]
            # a generator, as before: each level of nested sequences keeps costing two frames, so documents
            # nested too deeply for Python's recursion limit are refused at the same depth as before (give or
            # take the one frame no longer spent on an innermost string)
            seq.extend(c.value if c.tag == _STR_TAG and c.__class__ is _ScalarNode else self.build(c)
                       for c in children)
            return seq
        raise _NeedFullLoader


_MISSING = object()


def _new_ymap(line: int) -> YMap:
    """An empty YMap at ``line``, as ``YMap()`` then setting ``line``, without the generic ``__init__`` (one
    per mapping of every document)."""
    m = dict.__new__(YMap)
    m.line = line
    m.key_lines = {}
    return m


def _new_ylist(line: int) -> YList:
    seq = list.__new__(YList)
    seq.line = line
    seq.item_lines = []
    return seq


class _NeedFullLoader(Exception):
    pass


def load_all(text: str) -> YamlResult:
    """Parse every document of ``text``. Raises :class:`YamlError` with a line on failure."""
    loader = _Loader(text)
    result = YamlResult()
    may_alias = "*" in text
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if may_alias:
                _check_graph(node)
            try:
                data = _FastConstructor(loader).build(node)
            except _NeedFullLoader:
                data = loader.construct_document(node)
            result.docs.append(YamlDoc(data, node.start_mark.line + 1, node.end_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlError(msg or "invalid YAML", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "invalid YAML", None) from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels; not evaluated", None) from None
    finally:
        loader.dispose()
    result.duplicate_keys = loader.duplicates
    result.template_lines = loader.template_lines
    return result
