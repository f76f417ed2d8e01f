"""Python facts: pins what the extractor reads from a module that uses most of the language, so that a faster
walker can be checked to read the same, in the same order; and how it treats pathologically nested code."""

from __future__ import annotations

import ast
import sys

import pytest

from prodready.parsers import pyfacts

SOURCE = '''\
import os
import os.path as osp
from fastapi import Depends, FastAPI, Query
from typing import Annotated
import requests as rq

API = os.environ["API_URL"]
TOKEN = os.getenv("TOKEN", "x")
app = FastAPI(title="t")
client = rq.Session()


class Settings(Base, metaclass=Meta):
    url: str = "postgres://db/app"
    retries = 3

    def load(self, path: str = osp.join("a", "b")) -> dict:
        self.http = rq.Session()
        self.http.get(f"https://{path}/x")
        return {k: v for k, v in os.environ.items() if k.startswith(PREFIX)}


@app.get("/items/{item_id}", dependencies=[Depends(auth.verify)])
async def read_item(item_id: int, q: Annotated[str, Query(max_length=5)], user=Depends(current_user)) -> list[Item]:
    async with rq.get("http://x") as r:
        pass
    data = [await fetch(i) for i in range(3)]
    if (n := len(data)) > 2:
        log.info("%s items" % n)
    match data:
        case [first, *rest] if check(first):
            handle(rest)
    inner = lambda z: transform(z, key=lambda y: y.upper())
    return client.post("{}/x".format(API), json={"a": [1, 2]})


def outer():
    def nested(x):
        return x + "://suffix"
    return nested(1)
'''


def test_facts_of_a_module_using_most_of_the_language() -> None:
    f = pyfacts.extract(ast.parse(SOURCE))
    assert f.imports == {"os": 1, "os.path": 2, "fastapi": 3, "fastapi.Depends": 3, "fastapi.FastAPI": 3,
                         "fastapi.Query": 3, "typing": 4, "typing.Annotated": 4, "requests": 5}
    # calls in source order (decorators and parameter defaults are kept with their function, not here)
    assert [c.name for c in f.calls] == [
        "os.getenv", "fastapi.FastAPI", "requests.Session", "requests.Session", "self.http.get", "os.environ.items",
        "k.startswith", "os.path.join", "fastapi.Depends", "requests.get", "fetch", "range", "len", "log.info",
        "check", "handle", "transform", "y.upper", "client.post", "<dynamic>", "fastapi.Depends", "nested"]
    assert [(c.name, c.recv, c.func, c.refs) for c in f.calls if c.recv or c.refs] == [
        ("self.http.get", "requests.Session", "load", []), ("k.startswith", None, "load", ["PREFIX"]),
        ("fastapi.Depends", None, None, ["auth.verify"]), ("fetch", None, "read_item", ["i"]),
        ("len", None, "read_item", ["data"]), ("check", None, "read_item", ["first"]),
        ("handle", None, "read_item", ["rest"]), ("transform", None, "read_item", ["z"]),
        ("client.post", "requests.Session", "read_item", ["API"]), ("<dynamic>", None, "read_item", ["API"]),
        ("fastapi.Depends", None, "read_item", ["current_user"])]
    post = next(c for c in f.calls if c.name == "client.post")
    assert post.args == [("format", None)] and post.kwargs == {"json": ("lit", {"a": [1, 2]})}
    assert f.env == [("API_URL", 7, True), ("TOKEN", 8, False)]
    assert f.strings == [(14, "postgres://db/app"), (19, "https://{}/x"), (25, "http://x"), (39, "://suffix")]
    # class-level assignments are recorded with and without the class prefix
    assert [(a.target, a.value, a.line) for a in f.assigns] == [
        ("API", ("expr", None), 7), ("TOKEN", ("call", "os.getenv"), 8), ("app", ("call", "fastapi.FastAPI"), 9),
        ("client", ("call", "requests.Session"), 10), ("Settings.url", ("lit", "postgres://db/app"), 14),
        ("Settings.retries", ("lit", 3), 15), ("url", ("lit", "postgres://db/app"), 14), ("retries", ("lit", 3), 15)]
    assert f.classes == [("Settings", 13, ["Base"])]
    summary = [(fn.name, fn.cls, fn.is_async, [d.name for d in fn.decorators], fn.params, list(fn.param_calls),
                fn.param_types, fn.returns, fn.line, fn.end_line) for fn in f.functions]
    assert summary == [
        ("load", "Settings", False, [], ["self", "path"], ["path"], {"path": "str"}, "dict", 17, 20),
        ("read_item", None, True, ["app.get"], ["item_id", "q", "user"], ["q", "user"],
         {"item_id": "int", "q": "typing.Annotated[str, fastapi.Query()]"}, "list[Item]", 24, 34),
        ("outer", None, False, [], [], [], {}, None, 37, 40),
        ("nested", None, False, [], ["x"], [], {}, None, 38, 39)]
    read_item = f.functions[1]
    assert read_item.calls_names == ["requests.get", "fetch", "range", "len", "log.info", "check", "handle",
                                     "transform", "y.upper", "client.post", "<dynamic>", "fastapi.Depends"]
    assert read_item.param_calls["q"].kwargs == {"max_length": ("lit", 5)}
    assert read_item.decorators[0].args == [("lit", "/items/{item_id}")]
    assert read_item.decorators[0].refs == ["fastapi.Depends", "auth.verify"]


def test_nesting_limit_is_that_of_a_plain_recursive_visitor() -> None:
    """A recursive ``ast.NodeVisitor`` uses two stack frames per level of ``a + a + ...``: such code nested deeper
    than half the recursion limit has always been refused (reported as nested too deeply); less is read."""
    limit = sys.getrecursionlimit()
    shallow = pyfacts.extract(ast.parse("x = f(" + " + ".join(["a"] * (limit // 4)) + ")"))
    assert [c.name for c in shallow.calls] == ["f"]
    with pytest.raises(RecursionError):
        pyfacts.extract(ast.parse("x = " + " + ".join(["a"] * (limit * 7 // 10))))
