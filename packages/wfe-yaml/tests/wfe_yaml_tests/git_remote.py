"""A local bare repository made with the system git for the git-repo tests: commits, a tag, a feature branch
and a submodule (no network)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "wfe",
    "GIT_AUTHOR_EMAIL": "wfe@example.invalid",
    "GIT_COMMITTER_NAME": "wfe",
    "GIT_COMMITTER_EMAIL": "wfe@example.invalid",
}


def git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["git", "-c", "protocol.file.allow=always", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=GIT_ENV,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


@dataclass(frozen=True)
class Remote:
    bare: Path
    v1: str  # README "v1", tagged v1.0
    v2: str  # README "v2"
    head: str  # main: v2 plus the submodule "sub"
    feature: str  # branch feature: head plus feature.txt


def make_remote(root: Path) -> Remote:
    sub_bare, bare, work, sub_work = root / "sub.git", root / "repo.git", root / "work", root / "sub-work"
    git("init", "--bare", "-q", str(sub_bare))
    git("init", "-q", str(sub_work))
    (sub_work / "lib.txt").write_text("library\n")
    git("add", ".", cwd=sub_work)
    git("commit", "-q", "-m", "lib", cwd=sub_work)
    git("push", "-q", str(sub_bare), "main", cwd=sub_work)

    git("init", "--bare", "-q", str(bare))
    git("init", "-q", str(work))
    (work / "README.md").write_text("v1\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    v1 = git("rev-parse", "HEAD", cwd=work)
    git("tag", "v1.0", cwd=work)
    (work / "README.md").write_text("v2\n")
    git("commit", "-q", "-am", "two", cwd=work)
    v2 = git("rev-parse", "HEAD", cwd=work)
    git("submodule", "add", "-q", str(sub_bare), "sub", cwd=work)
    git("commit", "-q", "-m", "submodule", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "feature.txt").write_text("feature\n")
    git("add", "feature.txt", cwd=work)
    git("commit", "-q", "-m", "feature", cwd=work)
    feature = git("rev-parse", "HEAD", cwd=work)
    git("push", "-q", str(bare), "main", "feature", "--tags", cwd=work)
    return Remote(bare, v1, v2, head, feature)
