#!/usr/bin/env python3
"""Baseline for the extraction benchmark: the same corpus pages and the same
source definitions (config/sources/*.toml), parsed the way the best-known
open-source leak-site trackers do it: BeautifulSoup with the stdlib
`html.parser`, CSS selectors through soupsieve, `get_text()`, `strptime`.

Each field spec means what it means to leakwatch: `selector` (first match
inside the item; none = the item itself), `attr`, `regex` (first group),
`own_text`, `template`, `format`. JSON sources with `embedded` read the JSON
from that element's text.

Run: python3 benches/extract_baseline.py  (ROUNDS=n to change the rounds)
Needs: pip install beautifulsoup4
"""

import glob
import json
import os
import re
import sys
import time
import tomllib
from datetime import datetime
from urllib.parse import urljoin

from bs4 import BeautifulSoup, NavigableString

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (source, page folder, file name prefix), as in benches/extract.rs.
PAGES = [
    ("8base", "8base", "8base-"),
    ("akira", "akira", "akira-"),
    ("babuk", "babuk", "babuk-"),
    ("bianlian", "bianlian", "bianlian-"),
    ("blacksuit", "blacksuit", "blacksuit-"),
    ("clop", "clop", "clop-"),
    ("crosslock", "crosslock", "crosslock-"),
    ("daixin", "daixin", "daixin-"),
    ("darkrace", "darkrace", "darkrace-"),
    ("fog", "fog", "FOG-"),
    ("lockbit3", "lockbit3", "LockBit3"),
    ("play", "play", "Play"),
    ("ransomhub", "ransomhub", "RansomHub"),
]


def corpus():
    for rel in ("../shared/corpus/leaksites", "../../shared/corpus/leaksites"):
        p = os.path.normpath(os.path.join(ROOT, rel))
        if os.path.isdir(p):
            return p
    sys.exit("shared/corpus/leaksites not found beside the checkout")


def sources():
    out = {}
    for f in sorted(glob.glob(os.path.join(ROOT, "config/sources/*.toml"))):
        with open(f, "rb") as fh:
            for s in tomllib.load(fh)["source"]:
                out[s["name"]] = s
    return out


def spec(field):
    if field is None:
        return None
    if isinstance(field, str):
        return {"selector": field}
    return field


def clean(s):
    return " ".join(s.split())


def value(scope, field):
    if field is None:
        return None
    sel = field.get("selector")
    el = scope.select_one(sel) if sel else scope
    if el is None:
        return None
    if "attr" in field:
        raw = el.get(field["attr"])
        if raw is None:
            return None
    elif field.get("own_text"):
        raw = "".join(c for c in el.children if isinstance(c, NavigableString))
    else:
        raw = el.get_text(" ")
    if "regex" in field:
        m = re.search(field["regex"], raw)
        if not m:
            return None
        raw = m.group(1)
    raw = clean(raw)
    if not raw:
        return None
    if "template" in field:
        raw = field["template"].replace("{}", raw, 1)
    return raw


def parse_date(raw, fmt):
    if raw is None:
        return None
    for f in [fmt] if fmt else ["%Y-%m-%d"]:
        try:
            return datetime.strptime(raw, f)
        except ValueError:
            pass
    return None


def extract_html(rules, url, body):
    soup = BeautifulSoup(body, "html.parser")
    title_f, link_f = spec(rules["title"]), spec(rules.get("link"))
    date_f, body_f = spec(rules.get("date")), spec(rules.get("body"))
    posts = []
    for item in soup.select(rules["item"]):
        title = value(item, title_f)
        if not title:
            continue
        link = value(item, link_f)
        date = parse_date(value(item, date_f), date_f.get("format")) if date_f else None
        posts.append(
            {
                "title": title,
                "link": urljoin(url, link) if link else None,
                "date": date,
                "body": (value(item, body_f) or "")[:4096],
            }
        )
    return posts


def extract_json(rules, url, body):
    if "embedded" in rules:
        soup = BeautifulSoup(body, "html.parser")
        el = soup.select_one(rules["embedded"])
        if el is None:
            return []
        body = el.get_text()
    doc = json.loads(body)
    items = doc
    for part in [p for p in rules.get("items", "").split("/") if p]:
        items = items[part]

    def at(item, ptr):
        v = item
        for part in [p for p in (ptr or "").split("/") if p]:
            v = v.get(part) if isinstance(v, dict) else None
        return v if ptr else None

    posts = []
    for item in items:
        title = clean(str(at(item, rules["title"]) or ""))
        if title:
            posts.append({"title": title, "date": at(item, rules.get("date")), "body": at(item, rules.get("body"))})
    return posts


def main():
    rounds = int(os.environ.get("ROUNDS", "3"))
    defs = sources()
    pages = []
    for name, folder, prefix in PAGES:
        for f in sorted(glob.glob(os.path.join(corpus(), folder, prefix + "*"))):
            with open(f, "rb") as fh:
                pages.append((name, fh.read().decode("utf-8", "replace")))
    size = sum(len(b.encode()) for _, b in pages)
    postings = 0
    per = {}
    start = time.perf_counter()
    cpu_start = time.process_time()
    for r in range(rounds):
        for name, body in pages:
            s = defs[name]
            t = time.perf_counter()
            if s["kind"] == "html":
                posts = extract_html(s["html"], s["url"], body)
            else:
                posts = extract_json(s["json"], s["url"], body)
            took = time.perf_counter() - t
            postings += len(posts)
            e = per.setdefault(name, [0, 0, 0.0])
            if r == 0:
                e[0] += len(body.encode())
                e[1] += len(posts)
            e[2] += took
    wall = time.perf_counter() - start
    # The machine is shared: CPU time is the fair figure; wall time is printed too.
    secs = time.process_time() - cpu_start
    print(f"python bs4 html.parser: {len(pages)} pages, {size / 1e6:.2f} MB, {rounds} rounds")
    print(f"{'source':<10} {'bytes':>9} {'postings':>8} {'ms/page-set':>10}")
    for name, (b, p, d) in per.items():
        print(f"{name:<10} {b:>9} {p:>8} {d * 1000 / rounds:>10.2f}")
    print(
        f"TOTAL python: {size * rounds / 1e6 / secs:.2f} MB/s, {postings / secs:.0f} postings/s "
        f"({postings // rounds} postings per round, {secs * 1000 / rounds:.1f} ms CPU per round; "
        f"wall {size * rounds / 1e6 / wall:.2f} MB/s)"
    )


if __name__ == "__main__":
    main()
