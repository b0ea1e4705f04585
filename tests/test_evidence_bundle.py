"""Evidence bundles: determinism, round trip, tamper detection, safe extraction."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ircon.model import kinds as K
from ircon.report import evidence
from ircon.report.evidence import (
    BundleError,
    Member,
    build_bundle,
    extract_bundle,
    verify_bundle,
)
from ircon.store import journal
from tests.conftest import run_ircon
from tests.report_support import HOSTILE, frozen_clock, scripted_incident

WHEN = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
PREFIX = "evidence-IR-2026-0001"


@pytest.fixture
def bundle(store, tmp_path: Path):  # type: ignore[no-untyped-def]
    with frozen_clock() as clock:
        hid = scripted_incident(store, clock)
    path = tmp_path / "b.tar.gz"
    info = build_bundle(store, hid, path, exporter="tester@ci", exported_at=WHEN)
    return store, hid, path, info


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tf:
        return {m.name[len(PREFIX) + 1:]: tf.extractfile(m).read() for m in tf}  # type: ignore[union-attr]


def _repack(path: Path, out: Path, files: dict[str, bytes], mtime: int | None = None) -> None:
    """What a forger with ircon's own writer would produce from altered files."""
    with tarfile.open(path, "r:gz") as tf:
        mt = mtime if mtime is not None else tf.getmembers()[0].mtime
    data = evidence._tar_bytes(PREFIX, [Member(k, v) for k, v in files.items()], mt)
    out.write_bytes(evidence._gzip(data))


def test_bundle_round_trip(bundle) -> None:  # type: ignore[no-untyped-def]
    store, hid, path, info = bundle
    report = verify_bundle(path)
    assert report.ok, report.problems
    assert report.incident == hid and report.entries == info.entries == journal.head(store, hid)[0]
    assert report.head_hash == info.head_hash == journal.head(store, hid)[1]
    files = _members(path)
    assert list(files) == ["README.txt", "incident.json", "journal.jsonl", "alerts.jsonl",
                           "findings.jsonl", "actions.jsonl", "action_runs.jsonl",
                           "playbook/jailbreak-campaign-1.2.0.yaml", "manifest.json",
                           "SHA256SUMS"]
    # The journal in the bundle is the journal, hashes and all.
    lines = files["journal.jsonl"].decode().splitlines()
    assert [json.loads(x)["hash"] for x in lines] == [e.hash for e in journal.entries(store, hid)]
    manifest = json.loads(files["manifest.json"])
    assert manifest["journal"] == {"file": "journal.jsonl", "entries": info.entries,
                                   "head_hash": info.head_hash}
    assert manifest["exported_by"] == "tester@ci"
    assert manifest["exported_at"].startswith("2026-03-20")
    assert {f["path"] for f in manifest["files"]} == set(files) - {"manifest.json", "SHA256SUMS"}
    # Alerts carry their raw payloads; findings their evidence; actions their results.
    alerts = [json.loads(x) for x in files["alerts.jsonl"].decode().splitlines()]
    assert [a["fingerprint"] for a in alerts] == ["fp0", "fp1"]
    assert alerts[0]["raw"]["annotations"]["summary"] == HOSTILE
    findings = [json.loads(x) for x in files["findings.jsonl"].decode().splitlines()]
    assert [f["kind"] for f in findings] == [K.FINDING] * 3 + [K.CAMPAIGN]
    assert findings[0]["body"]["evidence"][0]["excerpt"] == HOSTILE
    acts = [json.loads(x)["kind"] for x in files["actions.jsonl"].decode().splitlines()]
    assert acts == [K.ACTION_REQUEST, K.ACTION_RESULT] * 2
    # Secret-looking fields of projection rows do not leave the database.
    runs = files["action_runs.jsonl"].decode()
    assert "hunter2" not in runs and '"password":"[scrubbed]"' in runs
    assert files["playbook/jailbreak-campaign-1.2.0.yaml"].startswith(b"name: jailbreak-campaign")
    # SHA256SUMS is checkable with coreutils' format.
    assert all(line.split("  ")[1] in files for line in files["SHA256SUMS"].decode().splitlines())


def test_same_journal_same_bytes(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid, path, info = bundle
    again = tmp_path / "again.tar.gz"
    assert build_bundle(store, hid, again, exporter="tester@ci",
                        exported_at=WHEN).sha256 == info.sha256
    assert again.read_bytes() == path.read_bytes()
    # Another exporter or time changes only the export record.
    other = tmp_path / "other.tar.gz"
    build_bundle(store, hid, other, exporter="someone@else", exported_at=datetime.now(UTC))
    a, b = _members(path), _members(other)
    assert [k for k in a if a[k] != b[k]] == ["manifest.json", "SHA256SUMS"]
    # A new journal entry is a new bundle.
    journal.append(store, hid, K.NOTE, {"text": "later"})
    later = tmp_path / "later.tar.gz"
    assert build_bundle(store, hid, later, exporter="tester@ci",
                        exported_at=WHEN).entries == info.entries + 1


@pytest.mark.parametrize("name", ["README.txt", "incident.json", "journal.jsonl",
                                  "alerts.jsonl", "findings.jsonl", "actions.jsonl",
                                  "action_runs.jsonl", "playbook/jailbreak-campaign-1.2.0.yaml",
                                  "manifest.json", "SHA256SUMS"])
def test_one_byte_changed_in_any_member_is_named(bundle, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    _store, _hid, path, _info = bundle
    files = _members(path)
    data = bytearray(files[name])
    data[len(data) // 2] ^= 0x01
    files[name] = bytes(data)
    forged = tmp_path / "forged.tar.gz"
    _repack(path, forged, files)
    report = verify_bundle(forged)
    assert not report.ok
    assert any(name in p for p in report.problems), report.problems


def test_journal_edit_with_matching_hashes_still_fails_the_chain(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A forger who edits an entry and rewrites both checksum files is caught by the chain.
    _store, _hid, path, _info = bundle
    files = _members(path)
    lines = files["journal.jsonl"].decode().splitlines()
    d = json.loads(lines[4])
    d["actor"] = "mallory@evil"
    lines[4] = json.dumps(d)
    files["journal.jsonl"] = ("\n".join(lines) + "\n").encode()
    manifest = json.loads(files["manifest.json"])
    for f in manifest["files"]:
        if f["path"] == "journal.jsonl":
            f["sha256"] = evidence._sha(files["journal.jsonl"])
            f["bytes"] = len(files["journal.jsonl"])
    files["manifest.json"] = (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()
    files["SHA256SUMS"] = "".join(f"{evidence._sha(v)}  {k}\n" for k, v in files.items()
                                  if k != "SHA256SUMS").encode()
    forged = tmp_path / "forged.tar.gz"
    _repack(path, forged, files)
    report = verify_bundle(forged)
    assert report.problems == ["journal.jsonl: entry 5: content does not match its hash "
                               "(entry edited)"]


def test_this_zlib_compresses_like_the_reference() -> None:
    # The byte-exact check of compressed data relies on it (CI and developer machines).
    assert evidence.canonical_zlib()


def test_every_byte_of_the_file_is_covered(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _store, _hid, path, _info = bundle
    raw = path.read_bytes()
    positions = sorted({*range(0, 12), *range(len(raw) - 10, len(raw)),
                        *range(0, len(raw), max(1, len(raw) // 150))})
    flipped = tmp_path / "flipped.tar.gz"
    for pos in positions:
        b = bytearray(raw)
        b[pos] ^= 0x20
        flipped.write_bytes(bytes(b))
        assert not verify_bundle(flipped).ok, f"byte {pos} changed but the bundle verified"
    flipped.write_bytes(raw + b"\x00")
    assert any("trailer" in p for p in verify_bundle(flipped).problems)
    flipped.write_bytes(raw[:-1])
    assert not verify_bundle(flipped).ok


def test_every_byte_of_a_small_bundle(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ircon.store import incidents

    hid = incidents.create(store, "small")["id"]
    incidents.note(store, hid, "one note")
    path = tmp_path / "small.tar.gz"
    build_bundle(store, hid, path, exporter="tester@ci", exported_at=WHEN)
    raw = path.read_bytes()
    flipped = tmp_path / "flipped.tar.gz"
    for pos in range(len(raw)):  # every byte, each bit position across the file
        mask = 1 << (pos % 8)
        b = bytearray(raw)
        b[pos] ^= mask
        flipped.write_bytes(bytes(b))
        assert not verify_bundle(flipped).ok, f"byte {pos} ^ {mask:#x} went unnoticed"


def test_tar_headers_and_padding_are_covered(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _store, _hid, path, _info = bundle
    files = _members(path)
    forged = tmp_path / "forged.tar.gz"
    _repack(path, forged, files, mtime=12345)  # every header's time altered consistently
    assert any("tar structure" in p for p in verify_bundle(forged).problems)
    with tarfile.open(path) as tf:
        mtime = tf.getmembers()[0].mtime
    # Padding after a member's data: no file hash covers it, the canonical archive does.
    tar = bytearray(evidence._tar_bytes(PREFIX, [Member(k, v) for k, v in files.items()], mtime))
    size = len(files["README.txt"])
    pad_at = 512 + size  # first header, then README's data, then zero padding
    assert size % 512 and tar[pad_at] == 0
    tar[pad_at] = 0x41
    forged.write_bytes(evidence._gzip(bytes(tar)))
    report = verify_bundle(forged)
    assert report.problems and "README.txt" in report.problems[-1], report.problems
    # A member's owner name: a header change with a valid header checksum.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for i, (k, v) in enumerate(files.items()):
            info = tarfile.TarInfo(f"{PREFIX}/{k}")
            info.size, info.mtime, info.mode = len(v), mtime, 0o644
            info.uname = "mallory" if i == 2 else ""
            tf.addfile(info, io.BytesIO(v))
    forged.write_bytes(evidence._gzip(buf.getvalue()))
    report = verify_bundle(forged)
    assert any("tar structure" in p and "journal.jsonl" in p for p in report.problems)


def test_manifest_and_sums_cross_check(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _store, _hid, path, _info = bundle
    files = _members(path)
    files["extra.txt"] = b"planted"
    forged = tmp_path / "forged.tar.gz"
    _repack(path, forged, files)
    problems = verify_bundle(forged).problems
    assert "extra.txt: in the archive but not listed in SHA256SUMS" in problems
    assert "extra.txt: in the archive but not listed in manifest.json" in problems
    files = _members(path)
    del files["alerts.jsonl"]
    _repack(path, forged, files)
    problems = verify_bundle(forged).problems
    assert "alerts.jsonl: listed in manifest.json but missing from the archive" in problems


def _evil_tar(path: Path, build) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        ok = tarfile.TarInfo(f"{PREFIX}/README.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"hi"))
        build(tf)
    path.write_bytes(evidence._gzip(buf.getvalue()))


def _file(tf: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.size = 4
    tf.addfile(info, io.BytesIO(b"evil"))


def _special(kind: bytes, name: str, link: str = "") -> object:
    def build(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        tf.addfile(info)
    return build


@pytest.mark.parametrize("label,build", [
    ("traversal", lambda tf: _file(tf, f"{PREFIX}/../../escaped.txt")),
    ("dotdot-first", lambda tf: _file(tf, "../escaped.txt")),
    ("absolute", lambda tf: _file(tf, "/tmp/escaped-abs.txt")),
    ("outside-prefix", lambda tf: _file(tf, "other/escaped.txt")),
    ("backslash", lambda tf: _file(tf, f"{PREFIX}\\..\\..\\escaped.txt")),
    ("symlink", _special(tarfile.SYMTYPE, f"{PREFIX}/link", "/etc/passwd")),
    ("hardlink", _special(tarfile.LNKTYPE, f"{PREFIX}/hard", "/etc/passwd")),
    ("device", _special(tarfile.CHRTYPE, f"{PREFIX}/dev")),
    ("fifo", _special(tarfile.FIFOTYPE, f"{PREFIX}/fifo")),
])
def test_extraction_refuses_unsafe_members(tmp_path: Path, label: str, build) -> None:  # type: ignore[no-untyped-def]
    evil = tmp_path / "evil.tar.gz"
    _evil_tar(evil, build)
    dest = tmp_path / "a" / "b" / "dest"
    with pytest.raises(BundleError, match="refusing to extract"):
        extract_bundle(evil, dest)
    # Nothing written, inside or outside.
    assert not (dest / PREFIX / "README.txt").exists()
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped-abs.txt").exists()
    report = verify_bundle(evil)
    assert any("unsafe member" in p or "outside" in p or "not under" in p
               for p in report.problems), report.problems


def test_extraction_of_a_good_bundle(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _store, _hid, path, _info = bundle
    dest = tmp_path / "out"
    written = extract_bundle(path, dest)
    assert len(written) == 10 and all(p.is_relative_to(dest) for p in written)
    sums = (dest / PREFIX / "SHA256SUMS").read_text().splitlines()
    for line in sums:
        digest, rel = line.split("  ")
        assert evidence._sha((dest / PREFIX / rel).read_bytes()) == digest
    with pytest.raises(BundleError, match="overwrite"):
        extract_bundle(path, dest)


def test_cli_evidence_export_verify_and_anchor(bundle, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, hid, _path, _info = bundle
    out = tmp_path / "cli.tar.gz"
    r = run_ircon("evidence", hid, "-o", str(out), "--json", db=db_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    record = journal.entries(store, hid)[-1]
    assert record.kind == K.EVIDENCE
    body = json.loads(record.body)
    assert body["sha256"] == info["sha256"] == evidence._sha(out.read_bytes())
    assert body["head_seq"] == info["entries"] == record.seq - 1
    r = run_ircon("evidence", "verify", str(out), db=db_path)
    assert r.returncode == 0, r.stderr
    assert "bundle intact" in r.stdout and "matches an export record" in r.stdout
    # A bundle rebuilt by a forger verifies on its own but has no export record.
    files = _members(out)
    forged = tmp_path / "forged.tar.gz"
    _repack(out, forged, files)  # same files: identical bytes, still anchored
    assert run_ircon("evidence", "verify", str(forged), db=db_path).returncode == 0
    files["README.txt"] += b"\n"
    manifest = json.loads(files["manifest.json"])
    for f in manifest["files"]:
        if f["path"] == "README.txt":
            f["sha256"], f["bytes"] = evidence._sha(files["README.txt"]), len(files["README.txt"])
    files["manifest.json"] = (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()
    files["SHA256SUMS"] = "".join(f"{evidence._sha(v)}  {k}\n" for k, v in files.items()
                                  if k != "SHA256SUMS").encode()
    _repack(out, forged, files)
    assert verify_bundle(forged).ok  # internally consistent...
    r = run_ircon("evidence", "verify", str(forged), db=db_path)
    assert r.returncode == 1 and "no export record" in r.stderr  # ...but not what ircon wrote
    # One flipped byte: exit 1 naming the part.
    raw = bytearray(out.read_bytes())
    raw[-3] ^= 0xFF
    forged.write_bytes(bytes(raw))
    r = run_ircon("evidence", "verify", str(forged), "--extract", str(tmp_path / "x"),
                  db=db_path)
    assert r.returncode == 1 and "gzip trailer" in r.stderr
    assert not (tmp_path / "x").exists()
    assert run_ircon("evidence", hid, db=db_path).returncode == 2  # no -o
    assert run_ircon("evidence", "verify", db=db_path).returncode == 2
