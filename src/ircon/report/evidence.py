"""Forensic evidence bundles: an incident's record as a deterministic, verifiable tar.gz.

Layout (every path under ``evidence-<ID>/``)::

    README.txt           what each file is and how to check it by hand
    incident.json        the incident's projection row at export time
    journal.jsonl        every journal entry with its prev and hash (the record)
    alerts.jsonl         the incident's alerts with their raw source payloads
    findings.jsonl       detector findings and campaign entries, with their journal hashes
    actions.jsonl        action requests, approvals, results and undos from the journal
    action_runs.jsonl    the action-run rows (secret-looking fields scrubbed)
    playbook/NAME-VERSION.yaml   the pinned playbook text, when the journal or package has it
    manifest.json        every file's SHA-256 and size, the journal head, exporter and time
    SHA256SUMS           ``sha256sum -c`` format, covering manifest.json too

Determinism: members are written in a fixed order with fixed metadata (mtime
= the journal head's time, uid/gid 0, no user names, mode 0644), through a
gzip writer with a fixed header, so the same journal and projections give the
same bytes apart from the export record (exporter and time in the manifest,
and hence SHA256SUMS). Verification re-derives the exact archive bytes from
the files it holds, so a change to any byte of the bundle — contents, tar
headers, padding, gzip header or trailer — is reported.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import struct
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ircon import __version__
from ircon.model import kinds as K
from ircon.model.journal import (
    ChainEntry,
    JournalEncodingError,
    canonical_body,
    parse_ts,
    verify_chain,
)
from ircon.report.render import write_jsonl

FORMAT = "ircon-evidence/1"
# Fixed gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown".
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
GZIP_LEVEL = 6
MAX_BUNDLE_BYTES = 4 * 1024**3  # decompressed; a gzip bomb stops here
MAX_MEMBERS = 10_000
_ID_RE = re.compile(r"^IR-\d{4}-\d{4,}$")
_PREFIX_RE = re.compile(r"^evidence-(IR-\d{4}-\d{4,})/")
_SAFE_PART = re.compile(r"[^A-Za-z0-9._-]+")
_SECRET_KEY = re.compile(r"(?i)(pass(word)?|secret|token|api[_-]?key|authorization|cookie|"
                         r"credential|private[_-]?key)")
_ACTION_KINDS = (K.ACTION_REQUEST, K.APPROVAL, K.ACTION_RESULT, K.ACTION_UNDO)
_FINDING_KINDS = (K.FINDING, K.CAMPAIGN)


class BundleError(Exception):
    """A bundle that cannot be built, read or safely extracted."""


@dataclass(slots=True)
class Member:
    path: str  # relative to the bundle directory
    data: bytes
    description: str = ""


@dataclass(slots=True)
class BundleInfo:
    path: str
    sha256: str  # of the .tar.gz file
    manifest_sha256: str
    incident: str
    entries: int
    head_hash: str
    files: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class BundleReport:
    path: str
    problems: list[str] = field(default_factory=list)
    incident: str | None = None
    entries: int = 0
    head_hash: str | None = None
    files: int = 0
    exported_by: str | None = None
    exported_at: str | None = None
    sha256: str | None = None
    manifest_sha256: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["ok"] = self.ok
        return d


# --- small helpers ---------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_line(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=True, separators=(",", ":"),
                      default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


def _scrub(value: Any, depth: int = 0) -> Any:
    """Secret-looking fields of projection rows replaced (the journal is already clean)."""
    if depth > 50:
        return "[too deep]"
    if isinstance(value, dict):
        return {k: "[scrubbed]" if isinstance(k, str) and _SECRET_KEY.search(k)
                and v not in (None, "", "[redacted]") else _scrub(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, depth + 1) for v in value]
    return value


def _safe_part(text: str, limit: int = 40) -> str:
    return _SAFE_PART.sub("_", text).strip("._")[:limit] or "unnamed"


# --- collecting -------------------------------------------------------------------------


@dataclass(slots=True)
class _Collected:
    incident: dict[str, Any]
    head_count: int
    head_hash: str
    journal: bytes
    findings: bytes
    actions: bytes
    playbooks: list[dict[str, Any]]
    last_ts: str | None


def _collect_journal(hid: str, entries: Iterable[ChainEntry]) -> tuple[
        bytes, bytes, bytes, list[dict[str, Any]], set[tuple[str, str]], str | None]:
    out = io.StringIO()
    fps: set[tuple[str, str]] = set()
    findings: list[str] = []
    actions: list[str] = []
    playbooks: list[dict[str, Any]] = []
    last_ts = None

    def tee(it: Iterable[ChainEntry]) -> Iterator[ChainEntry]:
        nonlocal last_ts
        for e in it:
            last_ts = e.ts
            if e.kind in _FINDING_KINDS or e.kind in _ACTION_KINDS:
                ref = ('{"actor":' + json.dumps(e.actor) + ',"body":' + e.body
                       + ',"hash":' + json.dumps(e.hash) + ',"kind":' + json.dumps(e.kind)
                       + ',"seq":' + str(e.seq) + ',"ts":' + json.dumps(e.ts) + "}")
                (findings if e.kind in _FINDING_KINDS else actions).append(ref)
            elif e.kind == K.PLAYBOOK_STARTED:
                body = json.loads(e.body)
                if isinstance(body, dict):
                    playbooks.append(body)
            elif e.kind == K.ALERT:
                body = json.loads(e.body)
                # Alerts that joined from elsewhere (merges) are found by their identity.
                if isinstance(body, dict) and body.get("source") and body.get("fingerprint"):
                    fps.add((str(body["source"]), str(body["fingerprint"])))
            yield e

    write_jsonl(tee(entries), out)

    def lines(items: list[str]) -> bytes:
        return ("\n".join(items) + "\n").encode("ascii") if items else b""

    return (out.getvalue().encode("ascii"), lines(findings), lines(actions), playbooks, fps,
            last_ts)


def _collect(store: Any, incident: str) -> tuple[_Collected, list[dict[str, Any]],
                                                   list[dict[str, Any]]]:
    from sqlalchemy import or_, select, tuple_

    from ircon.store import incidents, journal
    from ircon.store.tables import ActionRun, Alert

    inc = incidents.get(store, incident)
    hid = str(inc["human_id"])
    # The head is read first: entries are append-only, so those up to it never change
    # while the bundle is built, even if responders keep writing.
    head_count, head_hash = journal.head(store, hid)
    bounded = (e for e in journal.iter_entries(store, hid) if e.seq <= head_count)
    jbytes, fbytes, abytes, playbooks, fps, last_ts = _collect_journal(hid, bounded)

    a = Alert.__table__  # type: ignore[attr-defined]
    r = ActionRun.__table__  # type: ignore[attr-defined]
    with store.read() as conn:
        iid, _ = journal.resolve(conn, hid)
        cond = a.c.incident_id == iid
        if fps:
            cond = or_(cond, tuple_(a.c.source, a.c.fingerprint).in_(sorted(fps)))
        alerts = [dict(row) for row in conn.execute(
            select(a).where(cond).order_by(a.c.source, a.c.fingerprint)).mappings()]
        runs = [dict(row) for row in conn.execute(
            select(r).where(r.c.incident_id == iid).order_by(r.c.id)).mappings()]
    inc.pop("id", None)
    return (_Collected(inc, head_count, head_hash, jbytes, fbytes, abytes, playbooks, last_ts),
            alerts, runs)


def _playbook_members(playbooks: list[dict[str, Any]], notes: list[str]) -> list[Member]:
    """The pinned text of each playbook the incident ran, checked against its pinned hash."""
    out: list[Member] = []
    seen: set[str] = set()
    for pb in playbooks:
        name, version = str(pb.get("name") or "playbook"), str(pb.get("version") or "")
        pinned = str(pb.get("hash") or "")
        text = pb.get("source") if isinstance(pb.get("source"), str) else pb.get("text")
        origin = "journal"
        if not isinstance(text, str):
            text, origin = _bundled_text(pinned), "package"
        label = f"{name} {version}".strip()
        if not isinstance(text, str):
            notes.append(f"playbook {label}: pinned text not available (not in the journal, "
                         "and no bundled playbook has the pinned hash)")
            continue
        data = text.encode("utf-8")
        digest = _sha(data)
        if digest in seen:
            continue
        seen.add(digest)
        if pinned and pinned != digest:
            notes.append(f"playbook {label}: text in the journal does not match its pinned "
                         f"hash {pinned[:12]}")
        path = f"playbook/{_safe_part(name)}-{_safe_part(version or 'unversioned', 20)}.yaml"
        if any(m.path == path for m in out):
            path = path[:-5] + f"-{digest[:8]}.yaml"
        out.append(Member(path, data, f"playbook {label} as pinned (from the {origin})"))
    return out


def _bundled_text(pinned: str) -> str | None:
    if not re.fullmatch(r"[0-9a-f]{64}", pinned):
        return None
    from ircon.paths import bundled_playbooks

    root = bundled_playbooks()
    if not root.is_dir():
        return None
    for p in sorted(root.rglob("*.y*ml"))[:500]:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _sha(text.encode("utf-8")) == pinned:
            return text
    return None


def _readme(hid: str) -> bytes:
    return f"""ircon evidence bundle for {hid} ({FORMAT})

Files
  incident.json       the incident's projection row at export time
  journal.jsonl       the journal: one entry a line, with prev and hash (the record)
  alerts.jsonl        alerts of the incident, with the raw payloads their sources sent
  findings.jsonl      detector findings and campaign entries, each with its journal hash
  actions.jsonl       action requests, approvals, results and undos, with journal hashes
  action_runs.jsonl   the action-run rows (secret-looking fields scrubbed)
  playbook/           the pinned playbook text, when available
  manifest.json       SHA-256 and size of every file above, the journal head, exporter, time
  SHA256SUMS          SHA-256 of every file including manifest.json

Checking it
  ircon evidence verify FILE.tar.gz
or by hand:
  tar -xzf FILE.tar.gz && cd evidence-{hid} && sha256sum -c SHA256SUMS
  then re-check the journal chain: each line's hash is the lowercase hex SHA-256
  of the ASCII bytes of
    {{"actor":A,"body":BODY,"incident":I,"kind":K,"prev":P,"seq":N,"ts":T}}
  (keys sorted, no spaces, non-ASCII as \\uXXXX, BODY in the same canonical form);
  prev is the previous line's hash (64 zeros for seq 1); the last hash and the
  entry count must equal manifest.json's journal.head_hash and journal.entries.
  The export record in the journal (kind "evidence") holds this bundle's SHA-256.
""".encode("ascii")


def bundle_members(
    collected: _Collected,
    alerts: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    *,
    exporter: str,
    exported_at: datetime,
) -> list[Member]:
    """The bundle's files in archive order, manifest and SHA256SUMS last."""
    hid = str(collected.incident["human_id"])
    notes: list[str] = []
    members = [
        Member("README.txt", _readme(hid), "how to read and check this bundle"),
        Member("incident.json", (json.dumps(collected.incident, sort_keys=True, indent=2,
                                            ensure_ascii=True, default=_default) + "\n"
                                 ).encode("ascii"), "incident projection at export time"),
        Member("journal.jsonl", collected.journal, "hash-chained journal"),
        Member("alerts.jsonl", "".join(_json_line(a) + "\n" for a in alerts).encode("ascii"),
               "alerts with raw payloads"),
        Member("findings.jsonl", collected.findings, "findings and campaign entries"),
        Member("actions.jsonl", collected.actions, "action requests, results and undos"),
        Member("action_runs.jsonl",
               "".join(_json_line(_scrub(r)) + "\n" for r in runs).encode("ascii"),
               "action-run rows"),
    ]
    members.extend(_playbook_members(collected.playbooks, notes))
    manifest = {
        "format": FORMAT,
        "incident": hid,
        "title": collected.incident.get("title"),
        "journal": {"file": "journal.jsonl", "entries": collected.head_count,
                    "head_hash": collected.head_hash},
        "files": [{"path": m.path, "sha256": _sha(m.data), "bytes": len(m.data),
                   "description": m.description} for m in members],
        "notes": notes,
        "exported_by": exporter,
        "exported_at": exported_at.astimezone(UTC).isoformat(),
        "exporter": f"ircon {__version__}",
    }
    mdata = (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode(
        "ascii")
    members.append(Member("manifest.json", mdata, "manifest"))
    sums = "".join(f"{_sha(m.data)}  {m.path}\n" for m in members).encode("ascii")
    members.append(Member("SHA256SUMS", sums, "checksums"))
    return members


# --- writing ----------------------------------------------------------------------------


def _tar_bytes(prefix: str, members: list[Member], mtime: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for m in members:
            info = tarfile.TarInfo(f"{prefix}/{m.path}")
            info.size = len(m.data)
            info.mtime = mtime
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tf.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


# A fixed input and the SHA-256 of its raw deflate at GZIP_LEVEL with zlib 1.2.x/1.3.x.
_REFERENCE_INPUT = (b"ircon evidence bundle reference vector\n" * 40 + bytes(range(256)) * 4
                    + b'{"a":1,"b":[1,2,3]}\n' * 30)
_REFERENCE_SHA256 = "de229feb9f1df717b758a39602249eec3c09b430fe9f08508d1edc07fdaaf895"
_canonical: bool | None = None


def canonical_zlib() -> bool:
    """Whether this zlib compresses exactly as the one ircon's bundles are checked against."""
    global _canonical
    if _canonical is None:
        co = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
        _canonical = _sha(co.compress(_REFERENCE_INPUT) + co.flush()) == _REFERENCE_SHA256
    return _canonical


def _gzip(data: bytes) -> bytes:
    co = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
    body = co.compress(data) + co.flush()
    return GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _mtime(ts: str | None) -> int:
    if not ts:
        return 0
    try:
        return int(parse_ts(ts).timestamp())
    except ValueError:
        return 0


def build_bundle(
    store: Any,
    incident: str,
    out: str | Path,
    *,
    exporter: str,
    exported_at: datetime | None = None,
) -> BundleInfo:
    """Write the incident's evidence bundle to ``out``; the caller journals the export."""
    collected, alerts, runs = _collect(store, incident)
    members = bundle_members(collected, alerts, runs, exporter=exporter,
                             exported_at=exported_at or datetime.now(UTC))
    hid = str(collected.incident["human_id"])
    data = _gzip(_tar_bytes(f"evidence-{hid}", members, _mtime(collected.last_ts)))
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    manifest = next(m for m in members if m.path == "manifest.json")
    return BundleInfo(
        path=str(out), sha256=_sha(data), manifest_sha256=_sha(manifest.data), incident=hid,
        entries=collected.head_count, head_hash=collected.head_hash, files=len(members),
        bytes=len(data),
    )


# --- reading ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Read:
    prefix: str | None
    members: list[tuple[tarfile.TarInfo, bytes]]
    tar: bytes


def member_problem(info: tarfile.TarInfo, prefix: str | None = None) -> str | None:
    """Why a member must not be extracted, or None when it is a plain file at a safe path."""
    name = info.name
    if not info.isreg():
        what = ("a symbolic link" if info.issym() else "a hard link" if info.islnk()
                else "a device file" if info.isdev() else "a directory" if info.isdir()
                else "not a regular file")
        return f"{name!r} is {what}"
    if not name or "\x00" in name or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return f"{name!r} has control characters in its name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return f"{name!r} is an absolute path"
    if "\\" in name:
        return f"{name!r} contains a backslash"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return f"{name!r} escapes or obscures its directory ('..', '.', or an empty part)"
    if len(name) > 255:
        return f"{name[:60]!r}… has a name longer than 255 characters"
    if prefix is not None and not name.startswith(prefix + "/"):
        return f"{name!r} is outside the bundle directory {prefix}/"
    return None


def _read_raw(path: str | Path, problems: list[str], limit: int) -> bytes | None:
    p = Path(path)
    try:
        if p.stat().st_size > limit:
            problems.append(f"{p.name}: larger than {limit} bytes; refused")
            return None
        return p.read_bytes()
    except OSError as exc:
        problems.append(f"{p}: cannot read ({exc.strerror or exc})")
        return None


def _read_bundle(path: str | Path, raw: bytes, problems: list[str], limit: int,
                 notes: list[str] | None = None) -> _Read | None:
    p = Path(path)
    if raw[:10] != GZIP_HEADER:
        if raw[:2] != b"\x1f\x8b":
            problems.append(f"{p.name}: not a gzip file (not an ircon evidence bundle)")
            return None
        problems.append("gzip header: altered (ircon writes a fixed header)")
    d = zlib.decompressobj(-15)
    out = bytearray()
    buf = raw[10:]
    try:
        while buf and not d.eof:
            out += d.decompress(buf, 1 << 22)
            buf = d.unconsumed_tail
            if len(out) > limit:
                problems.append(f"archive: larger than {limit} bytes uncompressed; refused")
                return None
    except zlib.error as exc:
        problems.append(f"gzip data: corrupt ({exc})")
        return None
    if not d.eof:
        problems.append("gzip data: truncated")
        return None
    trailer = d.unused_data
    if len(trailer) != 8:
        problems.append("gzip trailer: missing or followed by extra bytes")
    else:
        crc, size = struct.unpack("<II", trailer)
        if crc != zlib.crc32(bytes(out)) or size != len(out) & 0xFFFFFFFF:
            problems.append("gzip trailer: checksum or length does not match the data")
        elif raw[:10] == GZIP_HEADER:
            # Inflate ignores some bits (unused code lengths, equivalent back-references,
            # padding), so a changed compressed byte can leave the data intact; ircon's
            # compression of the same data is exact, on any zlib that compresses like ours.
            if canonical_zlib():
                if _gzip(bytes(out)) != raw:
                    problems.append("gzip data: compressed bytes altered (not what ircon "
                                    "writes for this content)")
            elif notes is not None:
                notes.append("this zlib compresses differently from ircon's reference, so the "
                             "compressed bytes were not compared (contents, tar, gzip header "
                             "and trailer were)")
    tar = bytes(out)
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    prefix: str | None = None
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as tf:
            for info in tf:
                if len(members) >= MAX_MEMBERS:
                    problems.append(f"archive: more than {MAX_MEMBERS} members; refused")
                    return None
                if prefix is None:
                    m = _PREFIX_RE.match(info.name)
                    prefix = f"evidence-{m.group(1)}" if m else None
                    if prefix is None:
                        problems.append(f"{info.name!r}: not under an evidence-IR-YYYY-NNNN/ "
                                        "directory")
                bad = member_problem(info, prefix)
                if bad:
                    problems.append(f"unsafe member: {bad}")
                    members.append((info, b""))
                    continue
                fh = tf.extractfile(info)
                members.append((info, fh.read() if fh else b""))
    except (tarfile.TarError, EOFError, OSError) as exc:
        problems.append(f"tar archive: unreadable ({exc})")
        return None
    return _Read(prefix, members, tar)


def verify_bundle(path: str | Path, *, limit: int = MAX_BUNDLE_BYTES) -> BundleReport:
    """Re-check every hash, the journal chain and the archive's exact bytes.

    Each problem names the file (or archive part) that does not match.
    """
    report = BundleReport(str(path))
    problems = report.problems
    raw = _read_raw(path, problems, limit)
    if raw is None:
        return report
    report.sha256 = _sha(raw)
    read = _read_bundle(path, raw, problems, limit, report.notes)
    if read is None:
        return report
    files: dict[str, bytes] = {}
    infos: dict[str, tarfile.TarInfo] = {}
    for info, data in read.members:
        rel = info.name[len(read.prefix) + 1:] if read.prefix else info.name
        if rel in files:
            problems.append(f"{rel}: appears twice in the archive")
        files[rel] = data
        infos[rel] = info
    report.files = len(files)

    # SHA256SUMS covers every other file, manifest.json included.
    sums = files.get("SHA256SUMS")
    if sums is None:
        problems.append("SHA256SUMS: missing")
    else:
        listed: set[str] = set()
        for n, line in enumerate(sums.decode("ascii", "replace").splitlines(), 1):
            m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
            if not m:
                problems.append(f"SHA256SUMS: line {n} is malformed")
                continue
            digest, rel = m.groups()
            listed.add(rel)
            if rel not in files:
                problems.append(f"{rel}: listed in SHA256SUMS but missing from the archive")
            elif _sha(files[rel]) != digest:
                problems.append(f"{rel}: SHA-256 does not match SHA256SUMS")
        for rel in files:
            if rel != "SHA256SUMS" and rel not in listed:
                problems.append(f"{rel}: in the archive but not listed in SHA256SUMS")

    manifest: dict[str, Any] = {}
    mdata = files.get("manifest.json")
    if mdata is None:
        problems.append("manifest.json: missing")
    else:
        report.manifest_sha256 = _sha(mdata)
        try:
            loaded = json.loads(mdata)
            manifest = loaded if isinstance(loaded, dict) else {}
        except (ValueError, RecursionError):  # a bundle is outside input: nesting included
            problems.append("manifest.json: not valid JSON")
        if manifest and manifest.get("format") != FORMAT:
            problems.append(f"manifest.json: format is {manifest.get('format')!r}, "
                            f"expected {FORMAT}")
    hid = manifest.get("incident")
    report.incident = hid if isinstance(hid, str) else None
    report.exported_by = _opt_str(manifest.get("exported_by"))
    report.exported_at = _opt_str(manifest.get("exported_at"))
    if isinstance(manifest.get("notes"), list):
        report.notes = [str(n) for n in manifest["notes"]]
    if manifest:
        if read.prefix and hid and read.prefix != f"evidence-{hid}":
            problems.append(f"manifest.json: incident {hid} does not match the directory "
                            f"{read.prefix}/")
        entries_listed: set[str] = set()
        for item in manifest.get("files") or []:
            if not isinstance(item, dict):
                problems.append("manifest.json: malformed file entry")
                continue
            rel = str(item.get("path"))
            entries_listed.add(rel)
            if rel not in files:
                problems.append(f"{rel}: listed in manifest.json but missing from the archive")
                continue
            if _sha(files[rel]) != item.get("sha256"):
                problems.append(f"{rel}: SHA-256 does not match manifest.json")
            if len(files[rel]) != item.get("bytes"):
                problems.append(f"{rel}: size does not match manifest.json")
        for rel in files:
            if rel not in entries_listed and rel not in ("manifest.json", "SHA256SUMS"):
                problems.append(f"{rel}: in the archive but not listed in manifest.json")

    chain = _check_journal(files, manifest, report)
    if chain is not None:
        _check_refs(files, chain, "findings.jsonl", problems)
        _check_refs(files, chain, "actions.jsonl", problems)

    # The archive must be exactly what ircon writes for these files: this catches changes
    # to tar headers, padding and end blocks, which no file hash covers.
    if read.prefix and not any(p.startswith("unsafe member") for p in problems):
        mtimes = {i.mtime for i, _ in read.members}
        mtime = int(mtimes.pop()) if len(mtimes) == 1 else -1
        if chain:
            # Files are stamped with the journal head's time, so the stamp is checked too.
            mtime = _mtime(chain[max(chain)].ts)
        rebuilt = _tar_bytes(read.prefix, [
            Member(i.name[len(read.prefix) + 1:], d) for i, d in read.members], max(mtime, 0))
        if mtime < 0 or rebuilt != read.tar:
            problems.append("tar structure: " + _first_difference(read, rebuilt))
    return report


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _first_difference(read: _Read, rebuilt: bytes) -> str:
    """Which member's header or padding differs from the canonical archive."""
    a, b = read.tar, rebuilt
    n = min(len(a), len(b))
    at = next((i for i in range(0, n, 512) if a[i:i + 512] != b[i:i + 512]), n)
    offset = 0
    for info, data in read.members:
        end = offset + 512 + (len(data) + 511) // 512 * 512
        if at < end:
            return (f"header or padding of {info.name!r} altered (byte {at}; files' contents "
                    "are covered by their hashes)")
        offset = end
    if len(a) != len(b) and at >= n:
        return f"archive length {len(a)} differs from the canonical {len(b)} (bytes added or cut)"
    return f"end-of-archive blocks altered (byte {at})"


def _check_journal(files: Mapping[str, bytes], manifest: Mapping[str, Any],
                   report: BundleReport) -> dict[int, ChainEntry] | None:
    data = files.get("journal.jsonl")
    if data is None:
        report.problems.append("journal.jsonl: missing")
        return None
    hid = report.incident or ""
    head = manifest.get("journal") if isinstance(manifest.get("journal"), dict) else {}
    assert isinstance(head, dict)
    entries: list[ChainEntry] = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(ChainEntry.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError, RecursionError, JournalEncodingError) as exc:
            report.problems.append(f"journal.jsonl: line {n} is not a journal entry ({exc})")
            return None
    for e in entries:
        if e.incident != hid:
            report.problems.append(f"journal.jsonl: entry {e.seq} belongs to {e.incident!r}, "
                                   f"not {hid}")
            return None
    count, problem = verify_chain(
        hid, entries, head.get("entries") if isinstance(head.get("entries"), int) else None,
        head.get("head_hash") if isinstance(head.get("head_hash"), str) else None)
    report.entries = count
    report.head_hash = entries[-1].hash if entries else None
    if problem is not None:
        report.problems.append(f"journal.jsonl: entry {problem.seq}: {problem.reason}")
    return {e.seq: e for e in entries}


def _check_refs(files: Mapping[str, bytes], chain: Mapping[int, ChainEntry], name: str,
                problems: list[str]) -> None:
    """Lines that quote journal entries must quote them exactly."""
    data = files.get(name)
    if data is None:
        problems.append(f"{name}: missing")
        return
    for n, line in enumerate(data.splitlines(), 1):
        try:
            d = json.loads(line)
            e = chain.get(int(d["seq"]))
            same = (e is not None and e.hash == d["hash"] and e.kind == d["kind"]
                    and e.body == canonical_body(d["body"]))
        except (ValueError, KeyError, TypeError, RecursionError, JournalEncodingError):
            same = False
        if not same:
            problems.append(f"{name}: line {n} does not match its journal entry")


# --- extracting -------------------------------------------------------------------------


def extract_bundle(path: str | Path, dest: str | Path, *,
                   limit: int = MAX_BUNDLE_BYTES) -> list[Path]:
    """Write a bundle's files under ``dest``; refuses the whole archive if any member is a
    link, device, absolute path or escapes ``dest``. Returns the files written."""
    problems: list[str] = []
    raw = _read_raw(path, problems, limit)
    read = _read_bundle(path, raw, problems, limit) if raw is not None else None
    unsafe = [p for p in problems if p.startswith(("unsafe member", "archive:", "tar archive",
                                                   "gzip data"))]
    if read is None or unsafe or read.prefix is None:
        raise BundleError("refusing to extract: " + "; ".join(
            unsafe or problems or ["not an ircon evidence bundle"]))
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    real_root = os.path.realpath(root)
    written: list[Path] = []
    for info, data in read.members:
        target = root / info.name
        parent = target.parent
        # Create parents one level at a time, refusing any that is (or became) a link.
        cur = root
        for part in Path(info.name).parent.parts:
            cur = cur / part
            if cur.is_symlink():
                raise BundleError(f"refusing to extract: {cur} is a symbolic link")
            cur.mkdir(exist_ok=True)
        if not os.path.realpath(parent).startswith(real_root + os.sep) and os.path.realpath(
                parent) != real_root:
            raise BundleError(f"refusing to extract {info.name!r}: outside {root}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target, flags, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
        except FileExistsError as exc:
            raise BundleError(f"refusing to overwrite {target}") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        written.append(target)
    return written


# --- the live journal as an anchor ---------------------------------------------------------


def anchor_check(store: Any, report: BundleReport) -> tuple[list[str], list[str]]:
    """Compare a verified bundle with the live journal: (notes, problems).

    A bundle is internally consistent even if someone rebuilt it wholesale; the export
    record in the journal (its SHA-256) and the live chain (the head hash at the bundle's
    last entry) show it is the bundle ircon wrote.
    """
    from sqlalchemy import select

    from ircon.store import journal
    from ircon.store.tables import JournalEntry

    notes: list[str] = []
    problems: list[str] = []
    if not report.incident or not _ID_RE.match(report.incident):
        return notes, problems
    j = JournalEntry.__table__  # type: ignore[attr-defined]
    try:
        with store.read() as conn:
            iid, hid = journal.resolve(conn, report.incident)
            at = conn.execute(select(j.c.hash).where(
                j.c.incident_id == iid, j.c.seq == report.entries)).scalar()
            records = [r[0] for r in conn.execute(select(j.c.body).where(
                j.c.incident_id == iid, j.c.kind == K.EVIDENCE).order_by(j.c.seq))]
    except journal.UnknownIncident:
        notes.append(f"{report.incident} is not in this database: checked the bundle "
                     "on its own")
        return notes, problems
    if report.entries and at != report.head_hash:
        problems.append(f"journal.jsonl: entry {report.entries} differs from the live journal "
                        f"of {hid} (the bundle's journal is not a prefix of it)")
    else:
        notes.append(f"journal matches the live journal of {hid} up to entry {report.entries}")
    shas: set[str] = set()
    for body in records:
        try:
            d = json.loads(body)
        except ValueError:
            continue
        if isinstance(d, dict):
            shas.update(str(d.get(k)) for k in ("sha256", "manifest_sha256") if d.get(k))
    if report.sha256 in shas:
        notes.append("bundle SHA-256 matches an export record in the journal")
    elif report.manifest_sha256 in shas:
        notes.append("manifest SHA-256 matches an export record in the journal")
    else:
        problems.append("no export record in the journal has this bundle's SHA-256 "
                        "(not exported by ircon from this database, or altered and rebuilt)")
    return notes, problems
