"""A set on disk: image files under `<set>/<variant>/[<label>/]`, and `manifest.json` describing each.

A set is written into a hidden sibling folder and renamed into place at the
end, so a reader never sees half a set and a failed build leaves the old one.
Digit sets keep one folder per label under each variant, so a variant folder
is also a plain class-per-folder image dataset.

manifest.json:
    name, description, kind ("digits" or "non-digits"), seed, built_with,
    sources {key: {what, package, licence, attribution}}, rendering (prose),
    variants {name: prose}, count, counts {variant: n},
    items [{file, label (0-9, or null for a non-digit), source, variant, ...}]
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps


@dataclass(frozen=True)
class SetSpec:
    """What a set is and how to build it; `requires()` says what to install, or None when ready."""

    name: str
    kind: str  # "digits" or "non-digits"
    description: str
    rendering: str
    variants: dict
    sources: dict  # key -> {what, package, licence, attribution}; the manifest keeps the ones used
    build: Callable  # (SetWriter, numpy Generator) -> None
    requires: Callable[[], str | None] = field(default=lambda: None)


class SetWriter:
    """Collects one set's files and items; `finish()` writes the manifest and moves the set into place."""

    def __init__(self, root: Path, name: str, *, description: str, kind: str, seed: int,
                 sources: dict, rendering: str, variants: dict) -> None:
        self.root, self.name = Path(root), name
        self.final = self.root / name
        self.work = self.root / f".{name}.building-{os.getpid()}"
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.meta = {"name": name, "description": description, "kind": kind, "seed": seed,
                     "built_with": _versions(), "sources": sources, "rendering": rendering, "variants": variants}
        self.items: list[dict] = []

    def add(self, data: bytes, ext: str, *, variant: str, label: int | None, source: str, **fields) -> None:
        folder = f"{variant}/{label}" if label is not None else variant
        path = f"{folder}/{len(self.items):05d}.{ext}"
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.items.append({"file": path, "label": label, "source": source, "variant": variant, **fields})

    def finish(self, contact_sheet: bool = False) -> dict:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item["variant"]] = counts.get(item["variant"], 0) + 1
        used = {i["source"] for i in self.items}
        self.meta["sources"] = {k: v for k, v in self.meta["sources"].items() if k in used}
        manifest = {**self.meta, "count": len(self.items), "counts": counts, "items": self.items}
        (self.work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if contact_sheet:
            draw_contact_sheet(self.work, self.items).save(self.work / "contact-sheet.png")
        old = self.root / f".{self.name}.old-{os.getpid()}"
        if self.final.exists():
            self.final.rename(old)
        self.work.rename(self.final)
        shutil.rmtree(old, ignore_errors=True)
        return {"name": self.name, "path": str(self.final), "count": len(self.items), "counts": counts,
                "bytes": sum(p.stat().st_size for p in self.final.rglob("*") if p.is_file())}


def _versions() -> dict:
    import PIL

    return {"python": platform.python_version(), "numpy": np.__version__, "pillow": PIL.__version__}


def draw_contact_sheet(folder: Path, items: list[dict], per_variant: int = 60, cell: int = 72) -> Image.Image:
    """Thumbnails of the first items of each variant with their label (or char/kind), to check a set by eye."""
    picked: list[dict] = []
    for variant in dict.fromkeys(i["variant"] for i in items):
        of_variant = [i for i in items if i["variant"] == variant]
        step = max(1, len(of_variant) // per_variant)  # spread over the set, not just its first class
        picked += of_variant[::step][:per_variant]
    cols = 12
    rows = (len(picked) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * (cell + 14)), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    for n, item in enumerate(picked):
        with Image.open(folder / item["file"]) as im:
            thumb = ImageOps.contain(im.convert("RGB"), (cell - 4, cell - 4), Image.Resampling.NEAREST
                                     if max(im.size) < cell else Image.Resampling.LANCZOS)
        x, y = (n % cols) * cell, (n // cols) * (cell + 14)
        sheet.paste(thumb, (x + 2, y + 2))
        text = item["label"] if item["label"] is not None else item.get("char", item.get("kind", "-"))
        pen.text((x + 2, y + cell), f"{text} {item['variant'][:9]}", fill=(200, 0, 0))
    return sheet
