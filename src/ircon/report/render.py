"""Journal renderings shared by `ircon journal export`, `incident show` and reports."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from ircon.model.entry_text import summarize
from ircon.model.journal import ChainEntry
from ircon.model.text import one_line
from ircon.report.markdown import md_block, md_text


def entry_summary(e: ChainEntry, limit: int = 160) -> str:
    """One human line for an entry's body (safe to print)."""
    return one_line(summarize(e.kind, e.body, limit * 4), limit)


def incident_summary_lines(inc: dict[str, Any], entries: list[ChainEntry]) -> Iterator[str]:
    yield f"{inc['human_id']}  {inc['severity']}  {inc['status']}  {one_line(inc['title'], 100)}"
    commander = one_line(inc["commander"] or "-", 40)
    yield f"  kind: {one_line(inc['kind'], 40)}   commander: {commander}"
    yield f"  opened: {inc['created_at']}   updated: {inc['updated_at']}"
    if inc.get("playbook"):
        yield f"  playbook: {one_line(inc['playbook'], 60)} ({inc.get('playbook_hash', '')[:12]})"
    reasons = inc.get("severity_reasons") or []
    for r in reasons:
        yield f"  severity reason: {one_line(str(r), 120)}"
    yield f"  journal: {len(entries)} entries"
    for e in entries:
        yield f"  {e.seq:>5}  {e.ts}  {one_line(e.actor, 30)}  {e.kind:<16} {entry_summary(e)}"


def write_json(entries: Iterable[ChainEntry], inc: dict[str, Any], out: TextIO) -> None:
    """A single JSON document: incident, entries with hashes, head."""
    out.write('{"format":"ircon-journal/1","incident":')
    out.write(json.dumps(_public(inc), ensure_ascii=False, default=str, sort_keys=True))
    out.write(',"entries":[')
    last = None
    n = 0
    for e in entries:
        if n:
            out.write(",")
        out.write(_entry_json(e))
        last, n = e, n + 1
    out.write('],"head":')
    out.write(json.dumps({"count": n, "hash": last.hash if last else None}))
    out.write("}\n")


def write_jsonl(entries: Iterable[ChainEntry], out: TextIO) -> None:
    """One entry a line, each carrying its prev and hash (verifiable on its own)."""
    for e in entries:
        out.write(_entry_json(e))
        out.write("\n")


def _entry_json(e: ChainEntry) -> str:
    # The body is spliced in as stored: the exact canonical text the hash covers.
    return (
        '{"incident":' + json.dumps(e.incident) + ',"seq":' + str(e.seq)
        + ',"ts":' + json.dumps(e.ts) + ',"actor":' + json.dumps(e.actor)
        + ',"kind":' + json.dumps(e.kind) + ',"body":' + e.body
        + ',"prev":' + json.dumps(e.prev) + ',"hash":' + json.dumps(e.hash) + "}"
    )


def _public(inc: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in inc.items() if k != "id"}
    d["id"] = inc["human_id"]
    return d


def write_markdown(entries: Iterable[ChainEntry], inc: dict[str, Any], out: TextIO) -> None:
    out.write(f"# Journal of {inc['human_id']}: {md_text(inc['title'])}\n\n")
    out.write(f"- Severity: {inc['severity']}\n- Status: {inc['status']}\n")
    out.write(f"- Kind: {md_text(inc['kind'])}\n- Opened: {inc['created_at']}\n\n")
    out.write("All times UTC. Each entry's hash chains to the previous one.\n\n")
    last = None
    for e in entries:
        out.write(f"## {e.seq}. {e.ts} — {md_text(e.kind)} by {md_text(e.actor)}\n\n")
        out.write(f"{md_text(entry_summary(e, 300), None)}\n\n")
        body = json.dumps(json.loads(e.body), ensure_ascii=False, indent=2, sort_keys=True)
        out.write(md_block(body, "json") + "\n\n")
        out.write(f"hash `{e.hash}`\n\n")
        last = e
    if last:
        out.write(f"Head: {last.seq} entries, hash `{last.hash}`\n")


def read_export(text: str) -> tuple[str | None, list[ChainEntry]]:
    """Parse a json or jsonl export back into chain entries (for offline verify)."""
    text = text.strip()
    if text.startswith('{"format"'):
        doc = json.loads(text)
        return doc["incident"]["id"], [ChainEntry.from_dict(d) for d in doc["entries"]]
    items = [ChainEntry.from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]
    return (items[0].incident if items else None), items
