"""A shell-aware reading of Dockerfile RUN instructions, shared by the Dockerfile controls.

A RUN is read the way ``/bin/sh -c`` reads it: quotes and backslash escapes are resolved, the script is split
into simple commands on ``&&``, ``||``, ``;``, ``|``, ``&`` and newlines, ``VAR=value`` prefixes and redirections
are set apart, comments are dropped, and wrappers (``sudo``, ``env``, ``xargs`` ...) and ``sh -c '...'`` scripts
are unwrapped, so ``echo "--no-check-certificate"`` is an argument of echo, not a wget flag. BuildKit heredocs
are read too: ``RUN <<EOF`` bodies (and ``RUN <<EOF bash``) are scripts, other heredocs (``cat <<EOF > f``)
are data written somewhere. Exec-form RUN (``RUN ["apt-get", ...]``) is one command without a shell.

:func:`facts` walks a Dockerfile's stages in order and gives, for every RUN, its commands with the state in
force at that point: ENV and ARG values in scope (ENV inherits from parent stages, ARG does not), the SHELL,
BuildKit cache/tmpfs mounts, and whether pipelines run with ``pipefail``. Nothing here does I/O.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ..model import Dockerfile, Instruction, Stage

POSIX_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"}
PIPEFAIL_SHELLS = {"bash", "zsh", "ash", "ksh", "mksh"}  # sh/dash: `-o pipefail` is not dependable
NON_POSIX_SHELLS = {"pwsh", "powershell", "pwsh.exe", "powershell.exe", "cmd", "cmd.exe"}
DEFAULT_SHELL = ("/bin/sh", "-c")
# producers whose failure pipefail would not reveal (with pipefail, `yes | ...` even fails on SIGPIPE)
CANNOT_FAIL = {"echo", "printf", "yes", "true"}
_NAME_RX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_VAR_RX = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:]?[-=+?][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"}
_ENDERS = {"fi", "done", "esac", "}", "for", "case", "in", "function"}


def _basename(word: str) -> str:
    """``posixpath.basename(word)`` for a str (without its generic path handling: asked for every command)."""
    return word[word.rfind("/") + 1:]


@dataclass
class Cmd:
    """One simple command of a RUN script, after quote removal."""

    argv: list[str]
    assigns: dict[str, str] = field(default_factory=dict)  # VAR=value prefixes
    env: dict[str, str] = field(default_factory=dict)  # variables exported earlier in the same script
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target)
    stdin: str | None = None  # heredoc body fed to the command as data
    wrappers: list[str] = field(default_factory=list)  # sudo, env, xargs ... that ran it
    pipe_in: bool = False
    pipe_out: bool = False
    pipefail: bool = False  # the shell had pipefail on when this command ran
    posix: bool = True  # run by a POSIX shell (False: exec form, pwsh, cmd)
    index: int = 0  # order within the RUN
    locals: dict[str, str] = field(default_factory=dict)  # shell variables set (not exported) earlier
    name: str = ""  # basename of argv[0]

    def __post_init__(self) -> None:
        self.name = _basename(self.argv[0]) if self.argv else ""

    def var(self, name: str) -> str | None:
        """A variable as this command sees it: its own prefix, then what the script exported."""
        if name in self.assigns:
            return self.assigns[name]
        return self.env.get(name)

    def writes(self) -> list[str]:
        """Files this command writes through a redirection, or as tee's arguments."""
        out = [t for op, t in self.redirects if op in (">", ">>", ">|", "&>", "&>>")]
        if self.name == "tee":
            out += [a for a in self.argv[1:] if not a.startswith("-")]
        return out


@dataclass
class Run:
    """A RUN instruction read as a script, with the Dockerfile state in force when it runs."""

    ins: Instruction
    stage: Stage
    cmds: list[Cmd]
    mounts: list[tuple[str, str]]  # (type, target) of --mount flags
    scope: dict[str, str | None]  # ENV and ARG in scope (None: declared without a value, given at build time)
    shell: tuple[str, ...]
    unsafe_pipes: list[Cmd]  # first command of each pipeline that runs in a POSIX shell without pipefail
    conf: frozenset[str]  # settings written into package-manager config files earlier in the lineage
    memo: dict = field(default_factory=dict)  # per-RUN results computed once by the controls (e.g. calls)

    def cache_mounted(self, *dirs: str) -> bool:
        """A cache or tmpfs mount covers one of ``dirs`` (or a directory above it)."""
        for typ, target in self.mounts:
            if typ not in ("cache", "tmpfs"):
                continue
            t = target.rstrip("/")
            for d in dirs:
                d = d.rstrip("/")
                if d == t or d.startswith(t + "/"):
                    return True
        return False


@dataclass
class StageState:
    env: dict[str, str | None]
    shell: tuple[str, ...]
    conf: set[str]


@dataclass
class Facts:
    runs: list[Run]
    declared: dict[str, set[int]]  # variable name -> indexes of the stages whose ENV/ARG declare it
    final_lineage: set[int]  # indexes of the stages that end up in the final image

    def runs_in(self, stages: set[int] | None = None) -> list[Run]:
        return [r for r in self.runs if stages is None or r.stage.index in stages]


# --- tokenizer -----------------------------------------------------------------------------------

_OPS2 = ("&&", "||", ";;", "|&")
_SPECIAL = frozenset("\\'\"$`# \t\r\n<>&|;()")
_PLAIN_RUN = re.compile(r"[^\\'\"$`# \t\r\n<>&|;()]+")  # a run of characters outside _SPECIAL
_REDIR = ("&>>", "<<<", "<<-", "&>", ">>", "<<", ">&", "<&", ">|", "<>", ">", "<")


@dataclass
class _Tok:
    kind: str  # word | op | redir
    value: str
    raw: str = ""
    body: str | None = None  # heredoc body for `<<`


def _skip_balanced(s: str, i: int, open_: str, close: str) -> int:
    """Index just after the ``close`` that balances the ``open_`` at s[i-1]."""
    depth = 1
    n = len(s)
    while i < n and depth:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = s.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
        i += 1
    return i


def tokenize(s: str, bodies: list[str] | None = None) -> list[_Tok]:
    """Shell words, operators and redirections. ``bodies``: heredoc bodies already cut out by the Dockerfile
    parser (taken in order); otherwise bodies are read from the lines after the operator, as a shell does."""
    toks: list[_Tok] = []
    pending: list[_Tok] = []  # heredocs whose body starts after the next newline
    i, n = 0, len(s)
    buf: list[str] = []
    start = -1
    quoted = False

    def end_word() -> None:
        nonlocal buf, start, quoted
        if start >= 0:
            toks.append(_Tok("word", "".join(buf), s[start:i]))
        buf, start, quoted = [], -1, False

    def begin() -> None:
        nonlocal start
        if start < 0:
            start = i

    while i < n:
        c = s[i]
        if c not in _SPECIAL:  # the common case: plain characters of a word (taken up to the next special one)
            if start < 0:
                start = i
            j = _PLAIN_RUN.match(s, i).end()  # type: ignore[union-attr]
            buf.append(s[i:j])
            i = j
            continue
        if c == "\\":
            if i + 1 < n and s[i + 1] == "\n":
                i += 2
                continue
            begin()
            quoted = True
            if i + 1 < n:
                buf.append(s[i + 1])
            i += 2
            continue
        if c == "'":
            begin()
            quoted = True
            j = s.find("'", i + 1)
            j = n if j < 0 else j
            buf.append(s[i + 1:j])
            i = j + 1
            continue
        if c == '"':
            begin()
            quoted = True
            i += 1
            while i < n and s[i] != '"':
                if s[i] == "\\" and i + 1 < n:
                    nxt = s[i + 1]
                    if nxt == "\n":
                        i += 2
                        continue
                    buf.append(nxt if nxt in '$`"\\' else "\\" + nxt)
                    i += 2
                    continue
                if s.startswith("$(", i):
                    j = _skip_balanced(s, i + 2, "(", ")")
                    buf.append(s[i:j])
                    i = j
                    continue
                buf.append(s[i])
                i += 1
            i += 1
            continue
        if c == "$" and i + 1 < n and s[i + 1] in "({":
            begin()
            j = _skip_balanced(s, i + 2, s[i + 1], ")" if s[i + 1] == "(" else "}")
            buf.append(s[i:j])
            i = j
            continue
        if c == "`":
            begin()
            j = s.find("`", i + 1)
            j = n if j < 0 else j
            buf.append(s[i:j + 1])
            i = j + 1
            continue
        if c == "#" and start < 0:
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in " \t\r":
            end_word()
            i += 1
            continue
        if c == "\n":
            end_word()
            toks.append(_Tok("op", "\n"))
            i += 1
            while pending:  # heredoc bodies follow this line
                h = pending.pop(0)
                strip_tabs = h.value == "<<-"
                lines = []
                while i < n:
                    j = s.find("\n", i)
                    line = s[i:] if j < 0 else s[i:j]
                    i = n if j < 0 else j + 1
                    if (line.lstrip("\t") if strip_tabs else line) == h.raw:
                        break
                    lines.append(line)
                h.body = "\n".join(lines) + "\n"
            continue
        redir = next((r for r in _REDIR if s.startswith(r, i)), None) if c in "<>&" else None
        if redir:
            if start >= 0 and "".join(buf).isdigit() and not quoted:  # 2> 1>&2: a file-descriptor prefix
                buf, start = [], -1
            else:
                end_word()
            i += len(redir)
            while i < n and s[i] in " \t":
                i += 1
            # the target word
            tbuf: list[str] = []
            while i < n and s[i] not in " \t\n;&|()<>":
                if s[i] in "'\"":
                    q = s[i]
                    j = s.find(q, i + 1)
                    j = n if j < 0 else j
                    tbuf.append(s[i + 1:j])
                    i = j + 1
                    continue
                if s[i] == "\\" and i + 1 < n:
                    tbuf.append(s[i + 1])
                    i += 2
                    continue
                tbuf.append(s[i])
                i += 1
            tok = _Tok("redir", redir, "".join(tbuf))
            if redir in ("<<", "<<-"):
                if bodies:
                    tok.body = bodies.pop(0)
                else:
                    pending.append(tok)
            toks.append(tok)
            continue
        two = s[i:i + 2]
        if two in _OPS2:
            end_word()
            toks.append(_Tok("op", two))
            i += 2
            continue
        if c in ";|&()":
            end_word()
            toks.append(_Tok("op", c))
            i += 1
            continue
        begin()
        buf.append(c)
        i += 1
    end_word()
    return toks


# --- commands ------------------------------------------------------------------------------------

_WRAPPER_OPTS = {  # wrapper -> options that take a value
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group"},
    "env": {"-u", "--unset", "-C", "--chdir", "-S"},
    "nice": {"-n", "--adjustment"},
    "xargs": {"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-args",
              "--max-procs", "--max-lines", "--replace"},
    "stdbuf": {"-i", "-o", "-e"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "exec": set(), "nohup": set(), "command": set(), "eatmydata": set(), "time": set(), "chronic": set(),
}


class _Script:
    def __init__(self, posix: bool, pipefail: bool) -> None:
        self.posix = posix
        self.pipefail = pipefail
        self.env: dict[str, str] = {}
        self.locals: dict[str, str] = {}
        self.cmds: list[Cmd] = []
        self.unsafe_pipes: list[Cmd] = []


def parse_script(text: str, *, posix: bool = True, pipefail: bool = False,
                 bodies: list[str] | None = None, depth: int = 0) -> tuple[list[Cmd], list[Cmd]]:
    """Commands of a shell script and the pipelines that run without pipefail."""
    sc = _Script(posix, pipefail)
    _run_script(sc, text, bodies, depth)
    return sc.cmds, sc.unsafe_pipes


def _run_script(sc: _Script, text: str, bodies: list[str] | None, depth: int) -> None:
    toks = tokenize(text, list(bodies) if bodies else None)
    cur_words: list[_Tok] = []
    cur_redirs: list[_Tok] = []
    pipeline: list[Cmd] = []
    piped = False

    def flush(op: str) -> None:
        nonlocal cur_words, cur_redirs, pipeline, piped
        made = _make(sc, cur_words, cur_redirs, depth, pipe_in=piped)
        cur_words, cur_redirs = [], []
        if made is not None:
            pipeline.append(made)
        if op in ("|", "|&"):
            if made is not None:
                made.pipe_out = True
            piped = True
            return
        if len(pipeline) > 1 and sc.posix and not pipeline[0].pipefail \
                and not all(c.name in CANNOT_FAIL for c in pipeline[:-1]):
            sc.unsafe_pipes.append(pipeline[0])
        pipeline, piped = [], False

    for t in toks:
        if t.kind == "word":
            cur_words.append(t)
        elif t.kind == "redir":
            cur_redirs.append(t)
        else:
            flush(t.value)
    flush("")


def _make(sc: _Script, words: list[_Tok], redirs: list[_Tok], depth: int, pipe_in: bool) -> Cmd | None:
    # control-flow keywords in front of a command are not the command
    while words and not words[0].raw.startswith(("'", '"')) and words[0].value in _KEYWORDS:
        words = words[1:]
    if words and words[0].value in _ENDERS:
        return None
    assigns: dict[str, str] = {}
    k = 0
    while k < len(words) and _NAME_RX.match(words[k].raw):
        name, _, val = words[k].value.partition("=")
        assigns[name] = val
        k += 1
    argv = [w.value for w in words[k:]]
    heredocs = [r for r in redirs if r.value in ("<<", "<<-")]
    if not argv and heredocs:
        # `RUN <<EOF` — the heredoc is the script itself, run by the same shell
        for h in heredocs:
            _sub_script(sc, h.body or "", inherit=True, depth=depth)
        return None
    if not argv:
        # a bare assignment sets a shell variable: visible to later expansions, not exported to commands
        sc.locals.update(assigns)
        return None
    wrappers: list[str] = []
    # unwrap sudo/env/xargs/...: the wrapped command is the one that matters
    while argv and _basename(argv[0]) in _WRAPPER_OPTS:
        w = _basename(argv[0])
        opts = _WRAPPER_OPTS[w]
        j = 1
        while j < len(argv):
            a = argv[j]
            if w == "env" and _NAME_RX.match(a):
                name, _, val = a.partition("=")
                assigns[name] = val
                j += 1
            elif a == "--":
                j += 1
                break
            elif a.startswith("-") and len(a) > 1:
                j += 2 if a in opts else 1
            elif w in ("nice", "timeout") and a.replace(".", "").rstrip("smhd").isdigit():
                j += 1
            else:
                break
        wrappers.append(w)
        argv = argv[j:]
    cmd = Cmd(argv, assigns, dict(sc.env), [(r.value, r.raw) for r in redirs],
              next((h.body for h in heredocs if h.body is not None), None), wrappers, pipe_in=pipe_in,
              pipefail=sc.pipefail, posix=sc.posix, index=len(sc.cmds), locals=dict(sc.locals))
    sc.cmds.append(cmd)
    if depth < 4:  # $(...) and `...` run commands too (their pipelines' status is lost either way)
        for w in argv + list(assigns.values()):
            for inner in _substitutions(w):
                _sub_script(sc, inner, inherit=True, depth=depth, report_pipes=False)
    if not argv:
        return cmd
    name = cmd.name
    if name == "export":
        for a in argv[1:]:
            if "=" in a and not a.startswith("-"):
                k_, _, v_ = a.partition("=")
                sc.env[k_] = v_
    elif name == "set":
        on = _set_pipefail(argv[1:])
        if on is not None:
            sc.pipefail = on
    elif name in POSIX_SHELLS and depth < 4:
        script, pf = _shell_c(argv)
        if script is not None:
            _sub_script(sc, script, inherit=False, pipefail=pf, depth=depth)
        elif cmd.stdin is not None and all(a.startswith(("-", "+")) or a in _SET_O for a in argv[1:]):
            # `bash <<EOF` / `RUN <<EOF bash`: the heredoc is a script for that shell
            pf = _opts_pipefail(argv[1:]) and name in PIPEFAIL_SHELLS
            _sub_script(sc, cmd.stdin, inherit=False, pipefail=pf, depth=depth)
            cmd.stdin = None
    elif name == "su" and depth < 4 and "-c" in argv:
        i = argv.index("-c")
        if i + 1 < len(argv):
            _sub_script(sc, argv[i + 1], inherit=False, pipefail=False, depth=depth)
    return cmd


_SET_O = {"pipefail", "errexit", "nounset", "xtrace", "verbose", "noglob", "allexport"}


def _substitutions(word: str) -> list[str]:
    if "$(" not in word and "`" not in word:  # (most words: nothing to walk)
        return []
    out = []
    i = 0
    while i < len(word):
        if word.startswith("$(", i) and not word.startswith("$((", i):
            j = _skip_balanced(word, i + 2, "(", ")")
            out.append(word[i + 2:j - 1])
            i = j
        elif word[i] == "`":
            j = word.find("`", i + 1)
            if j < 0:
                break
            out.append(word[i + 1:j])
            i = j + 1
        else:
            i += 1
    return out


def _sub_script(sc: _Script, text: str, *, inherit: bool, depth: int, pipefail: bool = False,
                report_pipes: bool = True) -> None:
    """A nested script (``sh -c '...'``, a heredoc script) appended to the enclosing one's commands.
    ``inherit``: run by the same shell process (keeps its pipefail); otherwise a new shell with ``pipefail``."""
    posix = True if not inherit else sc.posix
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("#!"):
        interp = first[2:].split()
        if interp and posixpath.basename(interp[0]) == "env" and len(interp) > 1:
            interp = interp[1:]
        name = posixpath.basename(interp[0]) if interp else "sh"
        if name not in POSIX_SHELLS:
            return  # a python/perl/... script, not shell
        inherit, posix = False, True
        pipefail = name in PIPEFAIL_SHELLS and _opts_pipefail(interp[1:])
    inner = _Script(posix, sc.pipefail if inherit else pipefail)
    inner.env = dict(sc.env)
    inner.locals = dict(sc.locals)
    _run_script(inner, text, None, depth + 1)
    base = len(sc.cmds)
    for c in inner.cmds:
        c.index += base
    sc.cmds.extend(inner.cmds)
    if report_pipes:
        sc.unsafe_pipes.extend(inner.unsafe_pipes)


def _set_pipefail(args: list[str]) -> bool | None:
    state = None
    i = 0
    while i < len(args):
        a = args[i]
        if a[:1] in ("-", "+") and len(a) > 1 and a != "--" and "o" in a[1:]:
            if i + 1 < len(args) and args[i + 1] == "pipefail":
                state = a[0] == "-"
                i += 2
                continue
        i += 1
    return state


def _opts_pipefail(args: list[str]) -> bool:
    return bool(_set_pipefail(args))


def _shell_c(argv: list[str]) -> tuple[str | None, bool]:
    """``bash -eo pipefail -c 'script'`` -> (script, pipefail)."""
    has_c = False
    i = 1
    opts: list[str] = []
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "+o") and i + 1 < len(argv):
            opts += [a, argv[i + 1]]
            i += 2
            continue
        if a.startswith(("-", "+")) and len(a) > 1 and not a.startswith("--"):
            opts.append(a)
            if "c" in a[1:]:
                has_c = True
            if a.endswith("o") and i + 1 < len(argv):
                opts.append(argv[i + 1])
                i += 2
                continue
            i += 1
            continue
        if a.startswith("--"):
            i += 1
            continue
        break
    if has_c and i < len(argv):
        return argv[i], _opts_pipefail(opts) and posixpath.basename(argv[0]) in PIPEFAIL_SHELLS
    return None, False


# --- Dockerfile walk -----------------------------------------------------------------------------

def unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def env_pairs(ins: Instruction) -> list[tuple[str, str]]:
    """(name, value) of an ENV instruction, values unquoted."""
    vals = list(ins.value)
    return [(vals[i], unquote(vals[i + 1])) for i in range(0, len(vals) - 1, 2)]


def arg_decls(ins: Instruction) -> list[tuple[str, str | None]]:
    """(name, default or None) of an ARG instruction."""
    out = []
    for v in ins.value:
        name, eq, dv = v.partition("=")
        out.append((name, unquote(dv) if eq else None))
    return out


def mounts(ins: Instruction) -> list[tuple[str, str]]:
    out = []
    for f in ins.flags:
        if not f.startswith("--mount="):
            continue
        kv = dict(p.split("=", 1) if "=" in p else (p, "") for p in f[len("--mount="):].split(","))
        target = kv.get("target") or kv.get("dst") or kv.get("destination") or ""
        out.append((kv.get("type", "bind"), target))
    return out


def shell_of(ins: Instruction) -> tuple[str, ...] | None:
    if ins.json and ins.value:
        return tuple(ins.value)
    return None


def shell_is_posix(shell: tuple[str, ...]) -> bool:
    return bool(shell) and posixpath.basename(shell[0]).lower() not in NON_POSIX_SHELLS


def shell_has_pipefail(shell: tuple[str, ...]) -> bool:
    return bool(shell) and posixpath.basename(shell[0]) in PIPEFAIL_SHELLS and _opts_pipefail(list(shell[1:]))


def _run_cmds(ins: Instruction, shell: tuple[str, ...]) -> tuple[list[Cmd], list[Cmd]]:
    if ins.json:  # exec form: no shell at all
        return [Cmd(list(ins.value), posix=False)], []
    text = " ".join(ins.value)
    return parse_script(text, posix=shell_is_posix(shell), pipefail=shell_has_pipefail(shell),
                        bodies=list(ins.heredocs))


# settings written into package-manager configuration, recognised in later RUNs of the same lineage
CONF_RULES = [
    ("apt-assume-yes", re.compile(r"APT::Get::Assume-Yes\s*\"?(true|1|yes)", re.I)),
    ("apt-no-recommends", re.compile(r"APT::Install-Recommends\s*\"?(false|0|no)", re.I)),
    ("dnf-assumeyes", re.compile(r"^\s*assumeyes\s*=\s*(1|true|yes|on)", re.I | re.M)),
    ("pip-no-cache", re.compile(r"^\s*no-cache-dir\s*=\s*(1|true|yes|on|false|0)", re.I | re.M)),
    ("apt-keep-archives", re.compile(r"Keep-Downloaded-Packages\s*\"?(true|1|yes)", re.I)),
]


def written(cmds: list[Cmd]) -> list[tuple[Cmd, str, list[str]]]:
    """(command, text, files) for text a script writes into files: `echo … > f`, `printf … | tee f`,
    `cat <<EOF > f`."""
    out = []
    for i, c in enumerate(cmds):
        nxt = cmds[i + 1] if c.pipe_out and i + 1 < len(cmds) else None
        files = c.writes() or (nxt.writes() if nxt is not None and nxt.name == "tee" else [])
        if not files:
            continue
        if c.stdin is not None:
            out.append((c, c.stdin, files))
        elif c.name in ("echo", "printf"):
            text = "\n".join(a for a in c.argv[1:] if a not in ("-e", "-n", "-en", "-ne"))
            out.append((c, text.replace("\\n", "\n"), files))
    return out


def conf_written(cmds: list[Cmd]) -> set[str]:
    out: set[str] = set()
    for c in cmds:
        if c.name in ("pip", "pip3") and c.argv[1:3] == ["config", "set"] and len(c.argv) > 3 \
                and c.argv[3].endswith("no-cache-dir"):
            out.add("pip-no-cache")
        if c.name == "rm" and any(a.endswith("apt.conf.d/docker-clean") for a in c.argv[1:]):
            out.add("apt-keep-archives")  # Debian/Ubuntu images delete downloaded .debs through this file
    for _c, text, _files in written(cmds):
        for key, rx in CONF_RULES:
            if rx.search(text):
                out.add(key)
    return out


def final_lineage(d: Dockerfile) -> set[int]:
    return {s.index for s in d.final.lineage()} if d.final is not None else set()


def facts(d: Dockerfile) -> Facts:
    """Every RUN of the Dockerfile read as a script, with the state it runs in. Memoised on the Dockerfile object
    (a model object built per scan, never pickled): about twenty controls read the same RUNs."""
    f = d.__dict__.get("_shell_facts")
    if f is None:
        f = d._shell_facts = _facts(d)  # type: ignore[attr-defined]
    return f


def _facts(d: Dockerfile) -> Facts:
    runs: list[Run] = []
    declared: dict[str, set[int]] = {}
    ends: dict[int, StageState] = {}
    for s in d.stages:
        parent = ends.get(s.parent.index) if s.parent is not None else None
        env: dict[str, str | None] = dict(parent.env) if parent else {}
        shell = parent.shell if parent else DEFAULT_SHELL
        conf = set(parent.conf) if parent else set()
        args: dict[str, str | None] = {}
        for ins in s.instructions:
            if ins.cmd == "ENV":
                for k, v in env_pairs(ins):
                    env[k] = v
                    declared.setdefault(k, set()).add(s.index)
            elif ins.cmd == "ARG":
                for k, v in arg_decls(ins):
                    args[k] = v if v is not None else (unquote(d.args[k]) if d.args.get(k) else None)
                    declared.setdefault(k, set()).add(s.index)
            elif ins.cmd == "SHELL":
                shell = shell_of(ins) or shell
            elif ins.cmd == "RUN":
                cmds, unsafe = _run_cmds(ins, shell)
                runs.append(Run(ins, s, cmds, mounts(ins), {**args, **env}, shell, unsafe, frozenset(conf)))
                conf |= conf_written(cmds)
        ends[s.index] = StageState(env, shell, conf)
    return Facts(runs, declared, final_lineage(d))


def stage_scope(d: Dockerfile, stage: Stage, upto: Instruction | None = None) -> dict[str, str | None]:
    """ENV (inherited) and ARG (this stage only) in scope in ``stage`` before ``upto`` (or at its end)."""
    env: dict[str, str | None] = {}
    for s in reversed(stage.lineage()):
        for ins in s.instructions:
            if ins is upto:
                break
            if ins.cmd == "ENV":
                env.update(env_pairs(ins))
    args: dict[str, str | None] = {}
    for ins in stage.instructions:
        if ins is upto:
            break
        if ins.cmd == "ARG":
            for k, v in arg_decls(ins):
                args[k] = v if v is not None else (unquote(d.args[k]) if d.args.get(k) else None)
    return {**args, **env}


def variables(word: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _VAR_RX.finditer(word)]


def expand(word: str, lookup: dict[str, str | None]) -> str:
    """Substitute variables whose value is known; leave the others as written."""
    def sub(m: re.Match) -> str:
        v = lookup.get(m.group(1) or m.group(2))
        return v if v else m.group(0)

    return _VAR_RX.sub(sub, word)


def split_opts(args: list[str], with_value: set[str], *, unknown_long_takes_value: bool = False,
               known_flags: set[str] | None = None) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Split arguments into positionals and (option, value) pairs.

    ``with_value`` names the options that consume the next word (``-o X``, ``--repository URL``); ``--opt=v`` and
    short clusters (``-yq``, ``-Lkv``) are understood; ``--`` ends the options.
    """
    pos: list[str] = []
    opts: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            pos.extend(args[i + 1:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a.partition("=")
            if eq:
                opts.append((name, val))
            elif (name in with_value or (unknown_long_takes_value and name not in (known_flags or set())
                                         and not name.startswith("--no-"))) and i + 1 < len(args):
                opts.append((name, args[i + 1]))
                i += 1
            else:
                opts.append((name, None))
        elif a.startswith("-") and len(a) > 2 and a[2] == "=":  # -q=2
            opts.append((a[:2], a[3:]))
        elif a.startswith("-") and len(a) > 1 and not a[1].isdigit():
            if a[:2] in with_value:
                if len(a) > 2:
                    opts.append((a[:2], a[2:].lstrip("=")))
                elif i + 1 < len(args):
                    opts.append((a, args[i + 1]))
                    i += 1
                else:
                    opts.append((a, None))
            else:
                # a cluster of short flags; one that takes a value ends the cluster
                for j, ch in enumerate(a[1:], 1):
                    flag = "-" + ch
                    if flag in with_value:
                        rest = a[j + 1:]
                        if rest:
                            opts.append((flag, rest))
                        elif i + 1 < len(args):
                            opts.append((flag, args[i + 1]))
                            i += 1
                        else:
                            opts.append((flag, None))
                        break
                    opts.append((flag, None))
        else:
            pos.append(a)
        i += 1
    return pos, opts


def has_opt(opts: list[tuple[str, str | None]], *names: str) -> bool:
    return any(o in names for o, _ in opts)


def opt_values(opts: list[tuple[str, str | None]], *names: str) -> list[str]:
    return [v for o, v in opts if o in names and v is not None]
