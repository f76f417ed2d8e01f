"""parse: turn one file's bytes into typed data with source lines. One parser per kind.

Every failure is data, never an exception: a :class:`Parsed` with ``errors`` set (line when known).
YAML files whose kind is not clear from the name are classified here by their content.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .parsers import jsfacts, pyfacts
from .parsers.yamlsafe import YamlError, load_all

PARSER_VERSION = "5"  # bump when parsed data changes shape: invalidates the parse cache
MAX_FILE_BYTES = 5 * 1024 * 1024

YAML_KINDS = {"yaml", "compose", "github-workflow", "gitlab-ci", "kustomization", "helm-chart", "dependabot",
              "pre-commit", "k8s", "prometheus-rules", "prometheus-config", "alertmanager", "grafana-provisioning",
              "helm-values", "openapi", "waivers"}
TEXT_KINDS = {"gitignore", "dockerignore", "codeowners", "jenkinsfile", "makefile", "procfile", "shell", "text",
              "sql", "helm-template", "dependency-manifest", "lockfile", "renovate", "prodready-config", "json"}

SUPPRESSION_RE = re.compile(
    r"prodready:\s*(ignore-file|ignore)\s+([A-Za-z0-9_.,\-\s]*?)(?:\s*(?:--|reason[:=])\s*(.*?))?\s*(?:-->|\*/)?\s*$"
)


@dataclass
class Suppression:
    line: int
    controls: list[str]
    reason: str
    whole_file: bool


@dataclass
class Parsed:
    rel: str
    kind: str
    data: Any = None
    text: str | None = None
    errors: list[tuple[int | None, str]] = field(default_factory=list)
    notes: list[tuple[str, int | None, str]] = field(default_factory=list)  # (kind, line, message)
    suppressions: list[Suppression] = field(default_factory=list)
    secrets: list[tuple[int, str, str]] = field(default_factory=list)  # (line, type, masked line)


NO_SECRET_SCAN = {"lockfile"}


def decode(data: bytes) -> tuple[str | None, str | None, int | None]:
    """(text, error, line). Binary content and invalid UTF-8 are reported, not guessed."""
    if b"\x00" in data[:8192]:
        return None, "binary content (NUL bytes); not parsed", None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); not parsed", line
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None, None


def parse_bytes(rel: str, kind: str, data: bytes, scan_secrets: bool = True) -> Parsed:
    """Parse one file. With ``scan_secrets`` false, ``secrets`` is left None for the caller to fill in."""
    out = Parsed(rel, kind)
    if len(data) > MAX_FILE_BYTES:
        out.errors.append((None, f"file is {len(data) / 1048576:.1f} MB, above the {MAX_FILE_BYTES // 1048576} MB "
                                 "parse limit; not parsed"))
        return out
    text, err, line = decode(data)
    if text is None:
        out.errors.append((line, err or "unreadable"))
        return out
    out.text = text
    if "prodready:" in text:
        out.suppressions = _suppressions(text)
    if kind not in NO_SECRET_SCAN:
        if scan_secrets:
            from .parsers.secretscan import find_secrets

            out.secrets = find_secrets(text, rel)
        else:
            out.secrets = None  # type: ignore[assignment]
    try:
        _PARSERS.get(_family(kind), _parse_text)(out, text)
    except RecursionError:
        out.errors.append((None, "structure nested too deeply; not evaluated"))
        out.data = None
    except Exception as exc:  # a parser bug must never stop the scan; it is reported with the file
        out.errors.append((None, f"internal parser error: {type(exc).__name__}: {exc}"[:300]))
        out.data = None
    return out


def _family(kind: str) -> str:
    if kind in YAML_KINDS:
        return "yaml"
    return kind


def _suppressions(text: str) -> list[Suppression]:
    found = []
    for i, line in enumerate(text.splitlines(), 1):
        pos = line.find("prodready:")
        if pos < 0:
            continue
        m = SUPPRESSION_RE.search(line[pos:])
        if not m:
            continue
        ids = [c for c in re.split(r"[\s,]+", m.group(2).strip()) if c]
        reason = (m.group(3) or "").strip()
        found.append(Suppression(i, ids, reason, m.group(1) == "ignore-file"))
    return found


# --- YAML ---------------------------------------------------------------------------------------

def _parse_yaml(out: Parsed, text: str) -> None:
    try:
        res = load_all(text)
    except YamlError as exc:
        if "{{" in text and out.kind in ("yaml", "k8s"):
            out.kind = "helm-template"
            out.notes.append(("unrendered-template", exc.line,
                              "contains unrendered template expressions ({{ }}); evaluated only once rendered"))
            return
        out.errors.append((exc.line, exc.message))
        return
    if res.template_lines and out.kind in ("yaml", "k8s"):
        out.kind = "helm-template"
        out.notes.append(("unrendered-template", res.template_lines[0],
                          "contains unrendered template expressions ({{ }}); not evaluated as a manifest until "
                          "rendered (helm template / the chart's values)"))
        return
    docs = [d for d in res.docs if d.data is not None]
    for key, line in res.duplicate_keys:
        out.notes.append(("duplicate-key", line, f"duplicate key '{key}': the last value wins"))
    out.data = docs
    if out.kind == "yaml":
        out.kind = sniff_yaml(out.rel, [d.data for d in docs])


def sniff_yaml(rel: str, docs: list[Any]) -> str:
    maps = [d for d in docs if isinstance(d, dict)]
    if not maps:
        return "yaml"
    first = maps[0]
    low = rel.lower()
    if any("apiVersion" in d and "kind" in d for d in maps):
        if "grafana" in low and first.get("apiVersion") == 1:
            return "grafana-provisioning"
        return "k8s"
    if isinstance(first.get("groups"), list) and any(isinstance(g, dict) and "rules" in g for g in first["groups"]):
        return "prometheus-rules"
    if "scrape_configs" in first or ("rule_files" in first and "global" in first):
        return "prometheus-config"
    if "route" in first and "receivers" in first:
        return "alertmanager"
    if "apiVersion" in first and any(k in first for k in ("providers", "datasources", "contactPoints",
                                                             "policies", "notifiers", "groups")):
        return "grafana-provisioning"
    if isinstance(first.get("services"), dict) and (
            "version" in first or any(isinstance(s, dict) and ("image" in s or "build" in s)
                                      for s in first["services"].values())):
        return "compose"
    if "openapi" in first or "swagger" in first:
        return "openapi"
    name = low.rsplit("/", 1)[-1]
    if name.startswith("values") and "/charts/" in f"/{low}" or name in ("values.yaml", "values.yml"):
        return "helm-values"
    if "waivers" in name:
        return "waivers"
    return "yaml"


# --- Dockerfile ---------------------------------------------------------------------------------

def _parse_dockerfile(out: Parsed, text: str) -> None:
    import dockerfile

    try:
        cmds = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        msg = str(exc)
        m = re.search(r"line (\d+)", msg)
        out.errors.append((int(m.group(1)) if m else None, msg.splitlines()[0][:300]))
        return
    out.data = [
        {"cmd": c.cmd.upper(), "flags": list(c.flags), "value": list(c.value), "json": c.json,
         "original": c.original, "line": c.start_line, "end_line": c.end_line, "sub_cmd": c.sub_cmd,
         "heredocs": [h.content for h in c.heredocs]}
        for c in cmds
    ]


# --- code ---------------------------------------------------------------------------------------

def _parse_python(out: Parsed, text: str) -> None:
    try:
        tree = ast.parse(text, filename=out.rel)
    except SyntaxError as exc:
        out.errors.append((exc.lineno, f"Python syntax error: {exc.msg}"))
        return
    except ValueError as exc:  # e.g. source with NUL after decoding
        out.errors.append((None, f"Python source not parseable: {exc}"))
        return
    out.data = pyfacts.extract(tree)


def _parse_js(out: Parsed, text: str) -> None:
    flavour = "javascript"
    if out.kind == "typescript":
        flavour = "tsx" if out.rel.endswith(".tsx") else "typescript"
    facts = jsfacts.extract(text.encode("utf-8"), flavour)
    out.data = facts
    if facts.has_error:
        out.notes.append(("parse-warning", facts.error_line,
                          "syntax the JavaScript/TypeScript grammar could not read; the rest of the file was used"))


# --- docs ---------------------------------------------------------------------------------------

@dataclass
class Heading:
    level: int
    text: str
    line: int


@dataclass
class MarkdownDoc:
    title: str | None
    headings: list[Heading]
    words: int


def _markdown_headings(text: str) -> list[Heading]:
    """ATX and setext headings of a CommonMark document: level, raw inline text (as written, markup kept) and
    line. pulldown-cmark (through pyromark) does the block parsing; its ranges are UTF-8 byte offsets."""
    import pyromark

    raw = text.encode()
    headings: list[Heading] = []
    level = start = first = last = 0
    for event, span in pyromark.events_with_range(text):
        if level:
            end = event.get("End") if event.__class__ is dict else None  # breaks and rules are plain strings
            if end.__class__ is dict and "Heading" in end:
                if first > start and raw[first - 1] == 0x5C:  # an escaped first character: keep its backslash
                    first -= 1
                content = raw[first:last].decode().strip() if last else ""
                headings.append(Heading(level, content, raw.count(b"\n", 0, start) + 1))
                level = 0
            else:  # inline content of the heading: its source span runs from the first to the last event
                if not last:
                    first = span["start"]
                last = max(last, span["end"])
        elif event.__class__ is dict:
            begin = event.get("Start")
            if begin.__class__ is dict and "Heading" in begin:
                level = int(begin["Heading"]["level"][1:])
                start, first, last = span["start"], 0, 0
    return headings


def _parse_markdown(out: Parsed, text: str) -> None:
    headings: list[Heading] = []
    if out.rel.lower().endswith((".md", ".markdown")):
        headings = _markdown_headings(text)
    else:  # rst/adoc: underline or '=' headings, good enough for topic detection
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if i + 1 < len(lines) and line.strip() and re.fullmatch(r"([=\-~^#*])\1{2,}", lines[i + 1].strip()):
                headings.append(Heading(2, line.strip(), i + 1))
            elif line.startswith("="):
                headings.append(Heading(line.count("=", 0, 6), line.lstrip("= ").strip(), i + 1))
    title = next((h.text for h in headings if h.level == 1), headings[0].text if headings else None)
    out.data = MarkdownDoc(title, headings, len(text.split()))


# --- configs ------------------------------------------------------------------------------------

@dataclass
class NginxDirective:
    name: str
    args: list[str]
    line: int
    block: list[NginxDirective] | None = None


def _parse_nginx(out: Parsed, text: str) -> None:
    import io

    from crossplane.errors import NgxParserBaseException
    from crossplane.lexer import _lex_file_object  # the lexer handles quoting/escapes; the tree is built here

    try:
        tokens = list(_lex_file_object(io.StringIO(text)))
    except NgxParserBaseException as exc:
        out.errors.append((getattr(exc, "lineno", None), str(exc.strerror if hasattr(exc, "strerror") else exc)))
        return
    root: list[NginxDirective] = []
    stack: list[list[NginxDirective]] = [root]
    current: list[tuple[str, int]] = []
    for token, line, quoted in tokens:
        if not quoted and token == ";":
            if current:
                stack[-1].append(NginxDirective(current[0][0], [t for t, _ in current[1:]], current[0][1]))
            current = []
        elif not quoted and token == "{":
            if not current:
                out.errors.append((line, "block without a directive"))
                return
            d = NginxDirective(current[0][0], [t for t, _ in current[1:]], current[0][1], [])
            stack[-1].append(d)
            stack.append(d.block)  # type: ignore[arg-type]
            current = []
        elif not quoted and token == "}":
            if len(stack) == 1:
                out.errors.append((line, "unexpected '}'"))
                return
            stack.pop()
        elif token.startswith("#") and not quoted and not current:
            continue
        else:
            current.append((token, line))
    if len(stack) != 1:
        out.errors.append((None, "unexpected end of file, expecting '}'"))
        return
    out.data = root


def _parse_terraform(out: Parsed, text: str) -> None:
    if out.rel.endswith(".json"):
        try:
            out.data = json.loads(text)
        except ValueError as exc:
            out.errors.append((getattr(exc, "lineno", None), f"invalid JSON: {exc}"))
        return
    import hcl2

    try:
        out.data = hcl2.loads(text)
    except Exception as exc:
        m = re.search(r"line (\d+)", str(exc))
        out.errors.append((int(m.group(1)) if m else None, f"invalid HCL: {str(exc).splitlines()[0][:200]}"))


def _parse_json(out: Parsed, text: str) -> None:
    try:
        out.data = json.loads(text)
    except ValueError as exc:
        out.errors.append((getattr(exc, "lineno", None), f"invalid JSON: {exc.args[0] if exc.args else exc}"))


def _parse_dotenv(out: Parsed, text: str) -> None:
    pairs = []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#") or "=" not in s:
            continue
        key, _, value = s.removeprefix("export ").partition("=")
        pairs.append((key.strip(), value.strip().strip("'\""), i))
    out.data = pairs


def _parse_text(out: Parsed, text: str) -> None:
    out.data = None  # text kept in out.text; controls search it


_PARSERS = {
    "yaml": _parse_yaml,
    "dockerfile": _parse_dockerfile,
    "python": _parse_python,
    "javascript": _parse_js,
    "typescript": _parse_js,
    "markdown": _parse_markdown,
    "nginx": _parse_nginx,
    "terraform": _parse_terraform,
    "grafana-dashboard": _parse_json,
    "dotenv": _parse_dotenv,
}
