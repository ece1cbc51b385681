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
import math
import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["verdict_words", "read_folder", "compare", "report", "tests_table", "write_tests_page", "TESTS_PAGE", "write_text",
           "readme_table", "update_readme", "README_BEGIN", "README_END", "main"]

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
        if line.startswith("#"):  # a heading starts a new context
            parents = []
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
    return ({p.name: p.read_text() for p in sorted(folder.glob("*.md")) if p.name != TESTS_PAGE}
            if folder.is_dir() else {})


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


def _number(v) -> str:
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3g}"


def _interval(r: dict) -> str | None:
    """``"0.14 to 0.21 (99.2%)"`` of a test row, or None where it has no interval."""
    if all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k]) for k in ("low", "high", "level")):
        return f"{_number(r['low'])} to {_number(r['high'])} ({math.floor(r['level'] * 1000) / 10:g}%)"
    return None


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def tests_table(rows: list[dict]) -> str:
    """A markdown table of a notebook's tests (:meth:`memlib.stats.Family.rows`): primary ones with their
    Holm-adjusted p, verdict and the independent units an 80% chance would take at the effect measured
    (:func:`memlib.stats.units_for_power`), then the exploratory ones."""
    m = max((r["m"] for r in rows), default=0)
    out = [f"| test | n | estimate | interval | p | Holm-adjusted p (over {m}) | verdict | units for 80% power |",
           "| --- | ---: | ---: | --- | ---: | ---: | --- | ---: |"]
    for r in rows:
        interval = _interval(r) or ("n too small for an interval" if (r.get("n") or 0) >= 2 and r.get("low") is not None
                                    else "")
        primary = r["role"] == "primary"
        word = ("established" if r["established"] else "not established") if primary else "exploratory"
        units = r.get("units_for_power")
        power = "" if not primary else (f"{units}" if units is not None else "none: no effect measured, or over 500")
        out.append(f"| {r['name']} | {r['n'] if r['n'] is not None else ''} | {_number(r['estimate'])} | {interval} | "
                   f"{_number(r['p'])} | {_number(r['p_adjusted']) if primary else ''} | {word} | {power} |")
    return "\n".join(out)


TESTS_PAGE = "tests.md"


def write_tests_page(findings: str | Path) -> Path | None:
    """Gather the ``*.tests.json`` that the notebooks wrote beside their findings into ``tests.md`` there: every
    notebook's primary tests, what the README's table of contrasts points to (so it cannot drift from the
    findings). None if there are none."""
    folder = Path(findings)
    by_notebook = {}
    for name, r in _primary_rows(folder):
        by_notebook.setdefault(name, []).append(r)
    parts = [f"## [{name}]({name}.md)\n\n{tests_table(rows)}\n" for name, rows in by_notebook.items()]
    if not parts:
        return None
    page = ("# The findings' primary tests\n\nWritten by `make reproduce` from the findings beside this file; do not "
            "edit it by hand. Each notebook's primary tests form one family: p-values adjusted by Holm's method over "
            "the family, and *established* only where the interval excludes no effect and the adjusted p is below "
            "0.05. Medians carry their order-statistic interval at the level it achieves at that n (no interval below "
            "6 units); exploratory tests are in each finding's own table. *Units for 80% power*: how many independent "
            "units would give the test an 80% chance of passing at the strictest Holm step (0.05 over the family's "
            "size), at the effect measured here with its uncertainty (`memlib.stats.units_for_power`: for a sign "
            "test the share of units going one way is Beta-distributed as measured; for a slope or correlation, "
            "the normal approximation): what a rerun should size its units by.\n\n" + "\n".join(parts))
    write_text(folder / TESTS_PAGE, page)
    return folder / TESTS_PAGE


README_BEGIN, README_END = "<!-- primary tests: begin (written by make reproduce) -->", "<!-- primary tests: end -->"


def _primary_rows(findings: Path) -> list[tuple[str, dict]]:
    import json

    return [(f.name.removesuffix(".tests.json"), r) for f in sorted(Path(findings).glob("*.tests.json"))
            for r in json.loads(f.read_text()) if r["role"] == "primary"]


def readme_table(findings: str | Path) -> str:
    """Every notebook's primary tests in one markdown table (what the README shows between its markers)."""
    out = ["| notebook | test | n | estimate (interval, level) | p | Holm-adjusted p | |",
           "| --- | --- | ---: | --- | ---: | ---: | --- |"]
    for notebook, r in _primary_rows(Path(findings)):
        interval = _interval(r)
        est = _number(r["estimate"]) + (f" ({interval.replace(' (', ', ')}" if interval else
                                         " (n too small for an interval)")
        out.append(f"| [{notebook[:2]}](findings/{notebook}.md) | {r['name']} | {r['n']} | {est} | {_number(r['p'])} | "
                   f"{_number(r['p_adjusted'])} | {'established' if r['established'] else 'not established'} |")
    return "\n".join(out)


def update_readme(readme: str | Path, findings: str | Path) -> bool:
    """Replace the table between the README's markers (:data:`README_BEGIN`, :data:`README_END`) with
    :func:`readme_table` of ``findings``; False (nothing written) when the markers or the tests are missing."""
    path = Path(readme)
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text or not _primary_rows(Path(findings)):
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_BEGIN}\n{readme_table(findings)}\n{README_END}{tail}"
    if new != text:
        write_text(path, new)
    return True


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
