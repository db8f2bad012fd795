"""Render rows for people (tables, explanations) and for programs (JSON, JSON lines, CSV, Atom)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .config import VERSION


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], widths: dict[str, int] | None = None) -> str:
    """A plain-text table; long cells are cut to fit the terminal."""
    if not rows:
        return ""
    widths = dict(widths or {})
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    natural = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    sizes = [min(natural[i], widths.get(c, 10_000)) for i, c in enumerate(columns)]
    total = shutil.get_terminal_size((160, 24)).columns
    flexible = [i for i, c in enumerate(columns) if c in ("title", "url", "last_error", "feed_url")]
    while sum(sizes) + 2 * len(sizes) > total and flexible:
        widest = max(flexible, key=lambda i: sizes[i])
        if sizes[widest] <= 20:
            break
        sizes[widest] -= 1
    lines = ["  ".join(c.ljust(sizes[i]) for i, c in enumerate(columns)).rstrip()]
    lines.append("  ".join("-" * s for s in sizes))
    for row in cells:
        lines.append("  ".join(_fit(v, sizes[i]).ljust(sizes[i]) for i, v in enumerate(row)).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return " ".join(str(value).split())


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def to_json(data: Sequence[dict[str, Any]] | dict[str, Any]) -> str:
    return json.dumps(data if isinstance(data, dict) else list(data), ensure_ascii=False, indent=2)


def to_jsonl(rows: Sequence[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    buffer = io.StringIO()
    columns = list(columns or (rows[0].keys() if rows else []))
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")


def to_atom(rows: Sequence[dict[str, Any]], title: str, feed_id: str, updated: str) -> str:
    """An Atom feed of matches, subscribable in any reader."""
    import xml.etree.ElementTree as ET  # here: only this export needs it, and every command imports render

    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    feed = ET.Element(f"{{{ns}}}feed")
    ET.SubElement(feed, f"{{{ns}}}title").text = title
    ET.SubElement(feed, f"{{{ns}}}id").text = feed_id
    ET.SubElement(feed, f"{{{ns}}}updated").text = updated
    ET.SubElement(ET.SubElement(feed, f"{{{ns}}}author"), f"{{{ns}}}name").text = "seedwatch"  # RFC 4287: entries have none
    ET.SubElement(feed, f"{{{ns}}}generator", version=VERSION).text = "seedwatch"
    for r in rows:
        entry = ET.SubElement(feed, f"{{{ns}}}entry")
        ET.SubElement(entry, f"{{{ns}}}title").text = _xml_safe(r.get("title") or r["url"])
        ET.SubElement(entry, f"{{{ns}}}id").text = entry_id(r["id"], r["seed"])
        ET.SubElement(entry, f"{{{ns}}}link", href=r.get("link") or r["url"])
        # a review (status, note) changes the entry: readers see it again
        ET.SubElement(entry, f"{{{ns}}}updated").text = max(r.get("published_at") or r["first_seen_at"], r.get("status_at") or "")
        summary = f"{r['verdict']} for seed {r['seed']} (score {r['score']:.3f})"
        if r.get("feed_url"):
            summary += f"; via {r['feed_url']}"
        if r.get("note"):
            summary += f"; note: {_xml_safe(r['note'])}"  # ElementTree escapes &, < and >
        ET.SubElement(entry, f"{{{ns}}}summary").text = summary
        ET.SubElement(entry, f"{{{ns}}}category", term=r["verdict"])
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def entry_id(article_id: int, seed: str) -> str:
    """An Atom entry id, one per (article, seed) match and the same in every export."""
    return f"urn:seedwatch:{quote(seed, safe='-._~')}:article:{article_id}"


def _xml_safe(text: str) -> str:
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def _score_formula(ex: dict[str, Any]) -> str:
    """How a score was made, from the parts Matcher.judge records."""
    from .score import ENTITY_SHARE

    text = f"{1 - ENTITY_SHARE:g} x words {ex['words']:.3f} + {ENTITY_SHARE:g} x names {ex['names']:.3f}"
    if ex.get("lift", 1) != 1:
        text = f"({text}) x short-text lift {ex['lift']:.2f}"
    if ex.get("keyword_boost"):
        text += f" + keywords {ex['keyword_boost']:.2f}"
    if ex.get("claimed_by"):
        text = f"({text}) x {ex['claimed_by']['factor']:g}, claimed"
    return text


def explain(article: dict[str, Any], snippet: int = 600) -> str:
    """`seedwatch show`: the article, why each seed judged it as it did, its duplicates and sources."""
    out = [f"#{article['id']}  {article['title'] or '(no title)'}", f"  url:        {article['link'] or article['url']}"]
    if article.get("published_at"):
        out.append(f"  published:  {article['published_at']}")
    out.append(f"  first seen: {article['first_seen_at']}")
    if article.get("author"):
        out.append(f"  author:     {article['author']}")
    if article.get("original"):
        o = article["original"]
        out.append(f"  duplicate of #{o['id']} ({article['duplicate_score']:.0%} of the shorter text's words in the same order): {o['title']}")
    out.append("")
    if not article["matches"]:
        out.append("No seeds yet: add one with `seedwatch seeds add FILE`.")
    for m in article["matches"]:
        ex = m["explain"]
        head = f"seed {m['seed']}: {m['verdict']}, score {m['score']:.3f} (threshold {ex.get('threshold', 0):.2f}), status {m['status']}"
        out.append(head)
        if m["verdict"] == "copy":
            out.append(f"  copy: {m['copy_score']:.0%} of the shorter text's words appear in the same order in the other")
        elif m["copy_score"]:
            out.append(f"  shares {m['copy_score']:.0%} of its words in order with the seed: below the copy line")
        if "words" in ex:
            out.append(f"  score: {_score_formula(ex)}")
        if ex.get("claimed_by"):
            c = ex["claimed_by"]
            out.append(
                f"  claimed by seed {c['name']}, which calls the article its own: {c['score']:.3f} to this seed's"
                f" {ex['before_claim'] - ex.get('keyword_boost', 0):.3f} before keywords (over 1/{c['ratio']:g} x),"
                f" so this score counts x {c['factor']:g}"
            )
        if ex.get("feedback"):
            ids = ", ".join(f"#{i}" for i in ex["feedback"])
            out.append(
                f"  learned from: the seed's text and its best matches {ids};"
                f" against the seed's text alone it scores {m['base']:.3f}"
            )
        if ex.get("terms"):
            out.append(f"  top shared terms: {', '.join(ex['terms'])}")
        if ex.get("name_terms"):
            out.append(f"  shared names and figures: {', '.join(ex['name_terms'])}")
        if ex.get("missing_keywords"):
            out.append(f"  missing must-have keywords: {', '.join(ex['missing_keywords'])}")
        if m.get("note"):
            out.append(f"  note: {m['note']}")
    if article["duplicates"]:
        out.append("")
        out.append(f"duplicates ({len(article['duplicates'])}):")
        out.extend(f"  #{d['id']}  {d['title']}  {d['url']}" for d in article["duplicates"])
    out.append("")
    out.append(f"sources ({len(article['sources'])}):")
    out.extend(f"  {s['feed_url']}  (guid {s['guid']}, first seen {s['first_seen_at']})" for s in article["sources"])
    text = article.get("content") or article.get("summary") or ""
    if text:
        out.append("")
        out.append(text[:snippet] + ("…" if len(text) > snippet else ""))
    return "\n".join(out)
