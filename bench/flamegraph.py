#!/usr/bin/env python3
"""`perf script` output (from `perf record -g`) as a flame graph in SVG: stacks folded by frame
names, each frame as wide as its share of the samples, callers below callees. No dependency:
Debian ships no flame graph tool, and this is all of the drawing.

    perf script -i perf.data | bench/flamegraph.py "title" > flame.svg
"""
import html
import re
import sys
from collections import Counter

WIDTH, ROW, FONT = 1400, 17, 11


def folded(lines):
    """Counts of each call stack, root first, from perf script's blocks (one per sample)."""
    stacks, frames = Counter(), []
    for line in list(lines) + [""]:
        if not line.strip():
            if frames:
                stacks[tuple(reversed(frames))] += 1
            frames = []
        elif line.startswith((" ", "\t")):
            # "    7f3a... symbol+0x12 (library)"
            match = re.match(r"\s+[0-9a-f]+\s+(.+?)(\+0x[0-9a-f]+)?\s+\((.*)\)$", line)
            if match:
                name = match.group(1)
                frames.append(name if name != "[unknown]" else f"[{match.group(3).rsplit('/', 1)[-1]}]")
    return stacks


def tree(stacks):
    root = {"name": "all", "count": 0, "children": {}}
    for stack, count in stacks.items():
        root["count"] += count
        node = root
        for name in stack:
            node = node["children"].setdefault(name, {"name": name, "count": 0, "children": {}})
            node["count"] += count
    return root


def svg(root, title):
    depth = lambda node: 1 + max((depth(c) for c in node["children"].values()), default=0)
    rows = depth(root)
    height = (rows + 2) * ROW
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="monospace" '
           f'font-size="{FONT}"><rect width="100%" height="100%" fill="#fff"/>',
           f'<text x="{WIDTH / 2}" y="{ROW - 4}" text-anchor="middle" font-size="{FONT + 3}">{html.escape(title)}</text>']
    total = root["count"]

    def draw(node, x, level):
        width = WIDTH * node["count"] / total
        if width < 0.3:
            return
        y = height - (level + 1) * ROW
        hue = 10 + (hash(node["name"]) % 40)
        label = f'{node["name"]} ({100 * node["count"] / total:.1f} %)'
        out.append(f'<g><title>{html.escape(label)}</title><rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{ROW - 1}" '
                   f'fill="hsl({hue},85%,60%)"/>')
        characters = int(width / (FONT * 0.6))
        if characters > 3:
            text = label if len(label) <= characters else label[:characters - 2] + ".."
            out.append(f'<text x="{x + 2:.2f}" y="{y + ROW - 5}">{html.escape(text)}</text>')
        out.append("</g>")
        for child in sorted(node["children"].values(), key=lambda c: c["name"]):
            draw(child, x, level + 1)
            x += WIDTH * child["count"] / total

    draw(root, 0, 0)
    out.append("</svg>")
    return "\n".join(out)


if __name__ == "__main__":
    print(svg(tree(folded(sys.stdin)), sys.argv[1] if len(sys.argv) > 1 else "flame graph"))
