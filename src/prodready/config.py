"""Configuration: ``.prodready.toml`` or ``[tool.prodready]`` in ``pyproject.toml``, and the waivers file.

Invalid configuration is a :class:`ConfigError` naming the file, the key and the line.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .controls.base import SEVERITIES
from .parsers.yamlsafe import YamlError, load_all

KNOWN_KEYS = {"exclude", "disable", "enable", "severity", "fail_under", "fail_on", "waivers", "gitignore", "max_file_mb"}


class ConfigError(Exception):
    def __init__(self, path: str, key: str | None, line: int | None, message: str) -> None:
        where = path + (f":{line}" if line else "")
        super().__init__(f"{where}: {('key ' + repr(key) + ': ') if key else ''}{message}")
        self.path, self.key, self.line, self.message = path, key, line, message


@dataclass
class Waiver:
    control: str
    reason: str
    expires: dt.date
    path: str | None = None  # glob on evidence path
    resource: str | None = None  # glob on resource
    line: int | None = None  # where in the waivers file
    used: int = 0


@dataclass
class Config:
    source: str | None = None
    exclude: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    enable: list[str] = field(default_factory=list)  # optional controls to turn on ("all" = every one)
    severity: dict[str, str] = field(default_factory=dict)
    fail_under: float | None = None
    fail_on: str | None = None
    waivers_file: str | None = None
    gitignore: bool = True
    max_file_mb: float | None = None


def _line_of(text: str, key: str) -> int | None:
    rx = re.compile(r'^\s*"?' + re.escape(key) + r'"?\s*=', re.M)
    m = rx.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def load_config(root: Path, explicit: Path | None, known_controls: set[str]) -> Config:
    candidates = [explicit] if explicit else [root / ".prodready.toml", root / "pyproject.toml"]
    for path in candidates:
        if path is None or not path.is_file():
            if explicit is not None:
                raise ConfigError(str(explicit), None, None, "configuration file not found")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise ConfigError(str(path), None, int(m.group(1)) if m else None, f"invalid TOML: {exc}") from None
        if path.name == "pyproject.toml":
            section = data.get("tool", {}).get("prodready")
            if section is None:
                continue
        else:
            section = data.get("prodready", data)
        return _validate(str(path), text, section, known_controls)
    return Config()


def _validate(path: str, text: str, data: dict[str, Any], known: set[str]) -> Config:
    cfg = Config(source=path)
    for key, value in data.items():
        line = _line_of(text, key)
        if key not in KNOWN_KEYS:
            raise ConfigError(path, key, line, f"unknown setting (known: {', '.join(sorted(KNOWN_KEYS))})")
        if key in ("exclude", "disable", "enable"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(path, key, line, "must be a list of strings")
            if key in ("disable", "enable"):
                for cid in value:
                    if cid not in known and not (key == "enable" and cid == "all"):
                        raise ConfigError(path, key, _line_of(text, cid) or line, f"unknown control id {cid!r}")
            setattr(cfg, key, value)
        elif key == "severity":
            if not isinstance(value, dict):
                raise ConfigError(path, key, line, "must be a table of control id = severity")
            for cid, sev in value.items():
                l2 = _line_of(text, cid) or line
                if cid not in known:
                    raise ConfigError(path, f"severity.{cid}", l2, "unknown control id")
                if sev not in SEVERITIES:
                    raise ConfigError(path, f"severity.{cid}", l2, f"severity must be one of {', '.join(SEVERITIES)}")
            cfg.severity = dict(value)
        elif key == "fail_under":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ConfigError(path, key, line, "must be a number from 0 to 100")
            cfg.fail_under = float(value)
        elif key == "fail_on":
            if value not in SEVERITIES:
                raise ConfigError(path, key, line, f"must be one of {', '.join(SEVERITIES)}")
            cfg.fail_on = value
        elif key == "waivers":
            if not isinstance(value, str):
                raise ConfigError(path, key, line, "must be a path to a waivers file")
            cfg.waivers_file = value
        elif key == "gitignore":
            if not isinstance(value, bool):
                raise ConfigError(path, key, line, "must be true or false")
            cfg.gitignore = value
        elif key == "max_file_mb":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(path, key, line, "must be a positive number")
            cfg.max_file_mb = float(value)
    return cfg


WAIVER_KEYS = {"control", "path", "resource", "reason", "expires"}


def load_waivers(path: Path, known: set[str]) -> list[Waiver]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, None, None, f"cannot read waivers file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(name, None, None, "waivers file is not UTF-8") from None
    try:
        docs = load_all(text).docs
    except YamlError as exc:
        raise ConfigError(name, None, exc.line, f"invalid YAML: {exc.message}") from None
    if not docs or docs[0].data is None:
        return []
    data = docs[0].data
    items = data.get("waivers") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConfigError(name, "waivers", getattr(data, "line", 1), "expected a list of waivers under 'waivers:'")
    out = []
    lines = getattr(items, "item_lines", [])
    for i, w in enumerate(items):
        line = lines[i] if i < len(lines) else None
        if not isinstance(w, dict):
            raise ConfigError(name, f"waivers[{i}]", line, "each waiver is a mapping")
        for k in w:
            if k not in WAIVER_KEYS:
                raise ConfigError(name, f"waivers[{i}].{k}", w.line_of(k), f"unknown key (known: {', '.join(sorted(WAIVER_KEYS))})")
        for k in ("control", "reason", "expires"):
            if not w.get(k):
                raise ConfigError(name, f"waivers[{i}].{k}", line, "required")
        if w["control"] not in known:
            raise ConfigError(name, f"waivers[{i}].control", w.line_of("control"), f"unknown control id {w['control']!r}")
        try:
            expires = dt.date.fromisoformat(str(w["expires"]))
        except ValueError:
            raise ConfigError(name, f"waivers[{i}].expires", w.line_of("expires"), "must be a date YYYY-MM-DD") from None
        if not w.get("path") and not w.get("resource"):
            raise ConfigError(name, f"waivers[{i}]", line, "give a 'path' glob or a 'resource' (a waiver for a whole "
                                                            "control belongs in 'disable')")
        out.append(Waiver(str(w["control"]), str(w["reason"]), expires, w.get("path"), w.get("resource"), line))
    return out
