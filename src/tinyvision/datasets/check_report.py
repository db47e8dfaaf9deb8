"""Writing a data check: report.json (everything), report.md (for people), check.png, duplicates.png."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from tinyvision.atomic import check_output_folder, write_json, write_text

if TYPE_CHECKING:
    from tinyvision.datasets.data_check import CheckReport

SAMPLES_PER_CLASS = 8
PAIRS_SHOWN = 12


def near_rule(t: dict) -> str:
    """The near-duplicate rule a report was made with, in words (reports before the neighbours lack them)."""
    found = f"pHash within {t['near_distance_bits']} of 64 bits"
    if t.get("near_neighbours"):
        return (f"near duplicates ({found}, 16x16 thumbnails correlated >= {t['near_thumbnail_correlation']}; "
                f"or among each image's {t['near_neighbours']} nearest, 32x32 thumbnails correlated as much at "
                f"their best alignment, moved or trimmed by up to 2/32 of a side, and their details >= "
                f"{t['near_detail_correlation']}"
                + ("; colour images mirrored too" if t.get("near_mirrored") else "") + ")")
    return f"near duplicates ({found} and 16x16 thumbnails correlated >= {t['near_thumbnail_correlation']})"


def escaped(name: str, bytes_as_text: bool = True) -> str:
    """A file or class name on one line: a newline or other control character as Python writes it; a byte
    that is not UTF-8 (held as a lone surrogate, PEP 383) as \\xNN, or kept (`bytes_as_text` False: a
    terminal is given the name's own bytes, as `ls` writes them); any other character as it is."""
    return "".join((f"\\x{ord(ch) - 0xDC00:02x}" if bytes_as_text else ch) if 0xDC80 <= ord(ch) <= 0xDCFF
                   else ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in name)


def shown(name: str) -> str:
    """A file or class name as report.md shows it: in a code span, with what would break the Markdown
    escaped (`escaped`); report.json keeps the name itself."""
    text = escaped(name)
    fence = "``" if "`" in text else "`"  # a backtick in the name: a longer fence, spaced off it
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def duplicate_lines(title: str, d: dict | None, note: str = "") -> list[str]:
    if d is None:
        return [f"- {title}: not checked{note}"]
    if not d.get("groups", d.get("pairs")):
        return [f"- {title}: none"]
    count = f"{d['groups']} group(s), {d['extra_copies']} extra copies" if "groups" in d else f"{d['pairs']} pair(s)"
    mirrored = f" ({d['mirrored']} of them mirrored)" if d.get("mirrored") else ""
    lines = [f"- {title}: {count}{mirrored} — {d['across_splits']} across splits, {d['across_classes']} across "
             f"classes (a pair may be both), {d['within_class']} within a class"]
    for ex in d["examples"][:8]:
        items = ", ".join(f"{shown(i['id'])} ({shown(i['class'])}, {i['split']})" for i in ex["items"])
        extra = f", distance {ex['distance']} bits, correlation {ex['correlation']}" if "distance" in ex else ""
        if ex.get("mirrored"):
            extra = f", mirrored, correlation {ex['correlation']}"
        lines.append(f"  - {ex['where'].replace('_', ' ')}{extra}: {items}")
    return lines


def render_markdown(d: dict) -> str:
    splits = list(d["counts"]) or ["train"]  # (no image read: no split holds one, each class a row of 0)
    shape = f"shape {tuple(d['image_shape'])} as trained" if d["image_shape"] else "no shape (no image read)"
    lines = [f"# Data check: {d['dataset']}", "",
             f"{d['images']} readable images, {len(d['classes'])} classes, {shape}; layout: {d['layout']}.", ""]
    lines += ["## Problems", ""]
    lines += [f"- {p}" for p in d["problems"]] or ["None found."]
    lines += ["", "## Images per class", "", "| class | " + " | ".join(splits) + " |",
              "| --- | " + " | ".join("---:" for _ in splits) + " |"]
    for c in d["classes"]:
        cell = shown(c).replace("|", "\\|")  # a pipe in a class name would end the table's cell
        lines.append(f"| {cell} | " + " | ".join(str(d["counts"].get(s, {}).get(c, 0)) for s in splits) + " |")
    lines.append("| **all** | " + " | ".join(str(sum(d["counts"].get(s, {}).values())) for s in splits) + " |")
    bal = d["imbalance"]
    tiny = ", ".join(map(shown, bal["tiny_classes"])) or "none"
    spread = (f"largest {bal['largest']}, smallest {bal['smallest']}, ratio {bal['ratio']}"
              if bal["ratio"] is not None else "none has training images")
    if bal["ratio"] is not None and bal.get("empty_classes"):
        spread += f" (of those with training images; empty: {', '.join(map(shown, bal['empty_classes']))})"
    lines += ["", f"Training classes: {spread}; tiny classes (< {d['thresholds']['tiny_class']}): {tiny}.", ""]
    sizes = ", ".join(f"{k} ({v})" for k, v in list(d["sizes"].items())[:8]) or "none read"
    modes = ", ".join(f"{k} ({v})" for k, v in d["modes"].items()) or "none read"
    lines += ["## Sizes and modes", "", f"- sizes (width x height): {sizes}", f"- modes: {modes}", ""]
    lines += ["## Unreadable files", ""]
    lines += [f"- {shown(f)}: {r}" for f, r in list(d["unreadable"].items())[:50]] or ["None."]
    t = d["thresholds"]
    lines += ["", "## Duplicates", "",
              *duplicate_lines("identical files (same bytes)", d["identical_files"], " (not a folder)"),
              *duplicate_lines("identical images (same pixels as trained)", d["identical_pixels"]),
              *duplicate_lines(near_rule(t), d["near_duplicates"], " (search skipped)"),
              "", "## Leakage", ""]
    leak = d["leakage"]
    lines += [f"- test images identical to a training image: {leak['test_images_identical_to_a_train_image']}"]
    if "test_images_with_a_train_near_duplicate" in leak:
        lines += [f"- test images with a near duplicate in training: {leak['test_images_with_a_train_near_duplicate']}"]
    pairs = any((d.get(kind) or {}).get("examples") for kind in ("identical_pixels", "near_duplicates"))
    figures = ("No figures: no image could be read." if not d["images"] else "Figures: `check.png` (counts, "
               "samples)" + (", `duplicates.png` (example pairs)." if pairs else "."))
    lines += ["", f"Checked in {d['seconds']} s. {figures}"]
    return "\n".join(lines) + "\n"


def sample_images(report: CheckReport) -> dict[str, torch.Tensor]:
    """Up to SAMPLES_PER_CLASS training images (else any) of each class."""
    inp = report.input
    out = {}
    for k, name in enumerate(inp.classes):
        rows = np.flatnonzero((inp.labels == k) & (inp.splits == 0))
        rows = rows if len(rows) else np.flatnonzero(inp.labels == k)
        picked = rows[np.linspace(0, len(rows) - 1, min(SAMPLES_PER_CLASS, len(rows))).astype(int)] \
            if len(rows) else []
        out[name] = torch.stack([inp.images(int(r), int(r) + 1)[0] for r in picked]) if len(picked) else None
    return out


def example_pairs(report: CheckReport) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """Duplicate pairs worth looking at: across splits and classes first."""
    inp = report.input
    row_of = {name: i for i, name in enumerate(inp.ids)}
    examples = []
    for kind in ("identical_pixels", "near_duplicates"):
        d = report.data.get(kind)
        if d:
            examples += [(kind, ex) for ex in d["examples"]]
    rank = {"across_splits": 0, "across_classes": 1, "within_class": 2}
    examples.sort(key=lambda e: rank[e[1]["where"]])
    pairs = []
    for kind, ex in examples[:PAIRS_SHOWN]:
        a, b = ex["items"][0], ex["items"][1]
        ia, ib = row_of[a["id"]], row_of[b["id"]]
        what = ("identical" if kind == "identical_pixels" else "near, mirrored" if ex.get("mirrored")
                else f"near ({ex['distance']} bits)")
        caption = f"{what}, {ex['where'].replace('_', ' ')}\n{a['id']} ({a['class']})\n{b['id']} ({b['class']})"
        pairs.append((inp.images(ia, ia + 1)[0], inp.images(ib, ib + 1)[0], caption))
    return pairs


def check_report_folder(out: Path) -> None:
    """Refuse, in one line, a folder whose report.json is another command's: `tinyvision compare` writes its
    report.json and report.md under the same names, and a data check written there replaced the comparison's
    report without a word. An earlier data check's report is replaced, as before."""
    import json

    from tinyvision.errors import TinyVisionError, flag

    check_output_folder(out)
    existing = Path(out) / "report.json"
    if not existing.is_file():
        return
    try:
        data = json.loads(existing.read_text())
    except (OSError, ValueError):
        data = None
    if not (isinstance(data, dict) and "identical_files" in data and "layout" in data):  # a data check's keys
        what = "a comparison's report.json (tinyvision compare)" if isinstance(data, dict) and "results" in data \
            else "a report.json that is no data check's"
        raise TinyVisionError(f"{flag('out', out)} holds {what}; pass another --out")


def write_report(report: CheckReport, out: Path, figures: bool = True) -> dict[str, Path]:
    """report.json and report.md, written last: a check stopped while drawing leaves no report naming
    figures it never drew (an earlier check's report is removed first, and its figures too)."""
    check_report_folder(out)  # (a Python caller's `out`; the CLI has checked it before the check)
    files = {"json": out / "report.json", "markdown": out / "report.md"}
    for name in ("report.md", "report.json"):
        (out / name).unlink(missing_ok=True)
    if figures and report.data["images"]:  # no image read: no bars, no samples, nothing to draw
        from tinyvision.plots import data_check_figure, duplicate_pairs_figure, save_figure

        files["figure"] = save_figure(data_check_figure(report.data, sample_images(report)), out / "check.png")
        pairs = example_pairs(report)
        if pairs:
            files["duplicates"] = save_figure(duplicate_pairs_figure(pairs), out / "duplicates.png")
    for name in ("check.png", "duplicates.png"):  # an earlier check's figure, in a folder used again: not this one's
        if (out / name) not in files.values():
            (out / name).unlink(missing_ok=True)
    write_json(files["json"], report.data)
    write_text(files["markdown"], report.markdown())
    return files
