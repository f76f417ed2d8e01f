"""The shell-aware reading of Dockerfile RUN instructions (``prodready.controls._dockershell``)."""

from __future__ import annotations

from pathlib import Path

from prodready.config import Config
from prodready.controls._dockershell import facts, parse_script, split_opts
from prodready.engine import ScanOptions, load_project


def _argvs(script: str, **kw) -> list[list[str]]:
    cmds, _ = parse_script(script, **kw)
    return [c.argv for c in cmds]


def test_quotes_escapes_and_operators_split_commands() -> None:
    assert _argvs("apt-get update&&apt-get install -y 'a b' c\\>9.0 ;echo \"x \\\"y\\\"\" # comment") == [
        ["apt-get", "update"], ["apt-get", "install", "-y", "a b", "c>9.0"], ["echo", 'x "y"']]


def test_flags_inside_arguments_of_other_commands_stay_arguments() -> None:
    cmds, _ = parse_script('rpm -i x.rpm | grep "--nosignature" || echo --nodigest')
    assert [c.argv for c in cmds] == [["rpm", "-i", "x.rpm"], ["grep", "--nosignature"], ["echo", "--nodigest"]]
    assert cmds[0].pipe_out and cmds[1].pipe_in and not cmds[2].pipe_in


def test_assignments_exports_and_wrappers() -> None:
    cmds, _ = parse_script("export A=1 && B=2 sudo -u app env C=3 pip install x")
    pip = cmds[-1]
    assert pip.argv == ["pip", "install", "x"]
    assert pip.assigns == {"B": "2", "C": "3"}
    assert pip.env == {"A": "1"}
    assert pip.wrappers == ["sudo", "env"]


def test_redirections_are_not_arguments_and_writes_are_known() -> None:
    cmds, _ = parse_script("echo 'insecure' >> ~/.curlrc 2>&1")
    assert cmds[0].argv == ["echo", "insecure"]
    assert cmds[0].writes() == ["~/.curlrc"]


def test_sh_c_and_substitutions_are_read_as_scripts() -> None:
    names = [c.name for c in parse_script('bash -c "curl -k x | sh" && echo $(wget -q y) `id -u`')[0]]
    assert names == ["bash", "curl", "sh", "echo", "wget", "id"]


def test_pipefail_from_shell_options_set_and_subshells() -> None:
    assert parse_script("curl x | tar xz")[1]
    assert not parse_script("set -euxo pipefail; curl x | tar xz")[1]
    assert not parse_script("curl x | tar xz", pipefail=True)[1]
    assert parse_script('sh -c "curl x | tar xz"', pipefail=True)[1], "a new sh does not inherit pipefail"
    assert not parse_script('bash -o pipefail -c "curl x | tar xz"')[1]
    assert not parse_script("echo deb x | tee /etc/apt/sources.list.d/x.list")[1], "echo cannot fail"
    assert not parse_script("curl x | tar xz", posix=False)[1]


def test_heredoc_bodies_given_by_the_parser_and_read_inline() -> None:
    cmds, _ = parse_script("<<EOF", bodies=["apt-get update\napt-get install -y x\n"])
    assert [c.argv[:2] for c in cmds] == [["apt-get", "update"], ["apt-get", "install"]]
    cmds, _ = parse_script("cat <<EOF > /etc/x.conf && echo done\nline one\nEOF\n")
    assert cmds[0].stdin == "line one\n" and cmds[0].writes() == ["/etc/x.conf"]
    assert cmds[1].argv == ["echo", "done"]
    assert _argvs("<<EOF", bodies=["#!/usr/bin/env python3\nprint(1 | 2)\n"]) == [], "python, not shell"


def test_split_opts_clusters_values_and_terminator() -> None:
    pos, opts = split_opts(["-Lkv", "-o", "out", "--retry=3", "--", "-x"], {"-o"})
    assert pos == ["-x"]
    assert opts == [("-L", None), ("-k", None), ("-v", None), ("-o", "out"), ("--retry", "3")]
    _, opts = split_opts(["-lol"], {"-o"})
    assert opts == [("-l", None), ("-o", "l")], "curl -lol: -o takes 'l', there is no -k"


def _dockerfile(tmp_path: Path, text: str):
    (tmp_path / "Dockerfile").write_text(text)
    project, _ = load_project(tmp_path, ScanOptions(use_cache=False), Config())
    return project.dockerfiles[0]


def test_stage_state_env_inherits_arg_does_not_and_shell_follows_from(tmp_path: Path) -> None:
    d = _dockerfile(tmp_path, (
        'FROM debian:12 AS base\nENV V=1\nARG A=2\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
        "RUN --mount=type=cache,target=/var/cache/apt curl x | tar xz\n"
        "FROM base\nRUN curl x | tar xz\n"
        "FROM debian:12\nRUN curl x | tar xz\n"))
    runs = facts(d).runs
    assert runs[0].scope == {"V": "1", "A": "2"} and runs[0].cache_mounted("/var/cache/apt/archives")
    assert runs[1].scope == {"V": "1"}, "ENV is inherited from the parent stage, ARG is not"
    assert not runs[0].unsafe_pipes and not runs[1].unsafe_pipes and runs[2].unsafe_pipes
    assert facts(d).final_lineage == {2}


def test_fragment_without_from_is_one_implicit_stage(tmp_path: Path) -> None:
    d = _dockerfile(tmp_path, "ARG V=1\nRUN apt-get install -y x=$V\nUSER app\n")
    assert len(d.stages) == 1 and d.stages[0].implicit and d.stages[0].base_image is None
    assert d.args == {}, "in a file without FROM the ARG belongs to the implicit stage"
    assert facts(d).runs[0].scope == {"V": "1"}
    assert d.final.effective_user()[0] == "app"
