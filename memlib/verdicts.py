"""The verdict words of the findings, compared between two reproductions.

Figures and numbers differ between CPUs (their float kernels differ, so every training trajectory does),
and between seeds; what a reproduction should keep is each stated contrast's verdict, *established* or
*not established*. :func:`verdict_words` reads them from a finding, each under a key made of its line with
the numbers taken out (so the same contrast with other numbers has the same key); :func:`report` says, per
finding, whether a new reproduction has the same words as the findings it replaced. ``python -m
memlib.notebooks`` prints it at its end; ``python -m memlib.verdicts FOLDER [--against REV]`` compares a
folder of findings with the ones committed in git (``make verify``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["verdict_words", "read_folder", "compare", "report", "main"]

_WORD = re.compile(r"\b(not established|established)\b")
_NUMBER = re.compile(r"[-+−]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?")
# clauses whose presence depends on the data, not on which contrast a line states (censored units)
_VARIABLE = re.compile(r"; [\d,]+ censored, counted at their length|, undetermined in [\d,]+ \(censored\)"
                       r"|, [\d,]+ of [\d,]+ censored")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITEM = re.compile(r"^(\s*)[-*] ")


def _shape(line: str) -> str:
    return " ".join(_NUMBER.sub("#", _VARIABLE.sub("", _WORD.sub("_", line))).split())


def verdict_words(text: str) -> dict[str, str]:
    """``{key: word}`` for every *established* / *not established* in ``text``. The key names the contrast, not its
    numbers: the bold labels of the list items above the line (e.g. the model), the line with its numbers and
    censoring clauses removed, and the word's place on the line (``#1``, ``#2``, ...)."""
    out, parents = {}, []  # parents: (indent, bold label) of the enclosing list items
    for line in text.splitlines():
        item = _ITEM.match(line)
        if item:
            indent = len(item.group(1))
            parents = [(i, b) for i, b in parents if i < indent]
            bold = _BOLD.search(line)
            if bold:
                parents.append((indent, bold.group(1)))
        words = [m.group(1) for m in _WORD.finditer(line)]
        if not words:
            continue
        context = " / ".join(b for _, b in parents if not (item and line.lstrip().startswith(f"- **{b}**")))
        shape = (f"[{context}] " if context else "") + _shape(line)
        for i, word in enumerate(words, 1):
            key = f"{shape} #{i}"
            while key in out:  # the same line shape twice under the same labels
                key += "'"
            out[key] = word
    return out


def read_folder(folder: str | Path) -> dict[str, str]:
    """``{file name: text}`` of the findings (``*.md``) directly in ``folder`` ({} if it does not exist)."""
    folder = Path(folder)
    return {p.name: p.read_text() for p in sorted(folder.glob("*.md"))} if folder.is_dir() else {}


def compare(old: str, new: str) -> dict:
    """The verdict words of two versions of one finding: ``same``, ``changed`` (``[(key, old word, new word)]``),
    and ``unmatched`` (verdicts whose line exists in only one version: the finding's wording changed)."""
    a, b = verdict_words(old), verdict_words(new)
    common = [k for k in b if k in a]
    return {"same": sum(a[k] == b[k] for k in common),
            "changed": [(k, a[k], b[k]) for k in common if a[k] != b[k]],
            "unmatched": len(set(a) ^ set(b))}


def report(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines saying whether the findings in ``after`` keep the verdict words of the versions in ``before`` they
    replaced (findings whose text did not change are counted as the same): what a reader checks after
    reproducing on another CPU or with other seeds. Each changed verdict gets a line of its own."""
    compared = {name: compare(before[name], text) for name, text in after.items() if name in before}
    if not compared:
        return ["verdicts: no earlier findings to compare with"] if after else []
    changed = [n for n, c in compared.items() if c["changed"]]
    reworded = [n for n, c in compared.items() if c["unmatched"] and not c["changed"]]
    same = len(compared) - len(changed) - len(reworded)
    lines = [f"verdicts against the findings this run replaced: {same} of {len(compared)} the same"
             + (f", {len(changed)} with a verdict changed" if changed else "")
             + (f", {len(reworded)} reworded (verdicts not comparable)" if reworded else "")
             + " (numbers may differ between CPUs and seeds)"]
    for name, c in compared.items():
        if c["unmatched"]:
            lines.append(f"  {name}: {c['unmatched']} verdict(s) not comparable (the finding's wording changed)")
        for key, was, now in c["changed"]:
            lines.append(f"  {name}: {was} -> {now}: {key.rsplit(' #', 1)[0][:160]}")
    return lines


def _committed(folder: Path, rev: str) -> dict[str, str]:
    """``{file name: text}`` of the findings ``folder`` as committed at ``rev`` in its git repository."""
    folder = folder.resolve()
    top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode:
        raise SystemExit(f"{folder} is not in a git repository: {top.stderr.strip()}")
    root = Path(top.stdout.strip()).resolve()
    rel = folder.relative_to(root).as_posix()
    names = subprocess.run(["git", "-C", str(root), "ls-tree", "--name-only", f"{rev}:{rel}"], capture_output=True,
                           text=True)
    if names.returncode:
        raise SystemExit(f"--against {rev}: {names.stderr.strip()}")
    return {n: subprocess.run(["git", "-C", str(root), "show", f"{rev}:{rel}/{n}"], capture_output=True,
                              text=True, check=True).stdout for n in names.stdout.split() if n.endswith(".md")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", default="findings", help="the findings to check (default: %(default)s)")
    p.add_argument("--against", default="HEAD", help="the git revision to compare with (default: %(default)s)")
    args = p.parse_args(argv)
    old, new = _committed(Path(args.folder), args.against), read_folder(args.folder)
    changed = False
    for name in sorted(set(old) | set(new)):
        if name not in new or name not in old:
            print(f"{name}: {'not written' if name not in new else 'not committed'}")
            continue
        c = compare(old[name], new[name])
        changed |= bool(c["changed"])
        print(f"{name}: {c['same']} verdicts the same, {len(c['changed'])} changed"
              + (f", {c['unmatched']} not comparable" if c["unmatched"] else ""))
        for key, was, now in c["changed"]:
            print(f"  {was} -> {now}: {key.rsplit(' #', 1)[0][:160]}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
