"""Threat-intel export: an incident's indicators as a STIX 2.1 bundle (``stix2`` library).

What is shared, and what is not:

* attack patterns for the incident's ATLAS techniques (ATLAS ids as external references);
* indicators for adversarial suffixes, jailbreak templates and injected prompts seen in
  detector evidence (PCRE patterns that match the text literally), for abusive public IP
  addresses, and for the API keys used (SHA-256 of the key only, never the key);
* a campaign for correlated activity, with counts but not the member keys or users;
* the incident itself as a report, and its TLP marking on every object.

Users, internal addresses (private, loopback, link-local) and raw keys never leave.
Ids are UUIDv5 from the incident and each object's natural key, and times come from the
journal, so re-exporting the same journal gives the same objects (consumers update them
rather than duplicate them). The bundle is parsed back with ``stix2`` before it is returned.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stix2

from ircon.model import kinds as K
from ircon.model.journal import ChainEntry
from ircon.model.text import visible
from ircon.report.facts import parse_when, reference_names

NAMESPACE = uuid.UUID("6d3a3c1e-6b1f-5f5e-9a59-2f1f1b6b1c11")  # ircon's STIX id namespace
MAX_TEXT_INDICATORS = 200
MAX_IP_INDICATORS = 1000
MAX_KEY_INDICATORS = 1000
MAX_PATTERN_SOURCE = 1000  # characters of attacker text one pattern matches
ATLAS_URL = "https://atlas.mitre.org/techniques/{}"

TLP = {
    "clear": stix2.TLP_WHITE, "white": stix2.TLP_WHITE, "green": stix2.TLP_GREEN,
    "amber": stix2.TLP_AMBER, "amber+strict": stix2.TLP_AMBER, "red": stix2.TLP_RED,
}

# Which detector evidence is a reusable text indicator, by rule words or ATLAS technique.
_TEXT_KINDS = (
    ("adversarial suffix", ("suffix", "gcg", "adversarial"), ("AML.T0043",)),
    ("jailbreak template", ("jailbreak", "template", "dan", "roleplay"), ("AML.T0054",)),
    ("prompt injection", ("injection", "inject"), ("AML.T0051",)),
)


class StixExportError(ValueError):
    """The incident cannot be exported as STIX (e.g. an unknown TLP setting)."""


def _id(kind: str, *key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '/'.join(key))}"


def pcre_literal(text: str) -> str:
    """A PCRE that matches ``text`` exactly: punctuation escaped, anything outside
    printable ASCII as ``\\x{HHHH}`` (so no invisible character hides in the pattern)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if ch.isascii() and (ch.isalnum() or ch == " "):
            out.append(ch)
        elif 0x21 <= cp <= 0x7E:
            out.append("\\" + ch)
        else:
            out.append(f"\\x{{{cp:x}}}")
    return "".join(out)


def _text_kind(body: Mapping[str, Any]) -> str | None:
    name = f"{body.get('detector', '')} {body.get('rule_id', '')}".lower()
    atlas = set(_strs(body.get("atlas")))
    for label, words, _techniques in _TEXT_KINDS:
        if any(w in name for w in words):
            return label
    for label, _words, techniques in _TEXT_KINDS:
        if atlas & set(techniques):
            return label
    return None


def _strs(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int)]
    return [value] if isinstance(value, str) and value else []


def _public_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return ip if ip.is_global else None


@dataclass(slots=True)
class _Seen:
    first: datetime
    last: datetime
    count: int = 0
    rules: set[str] = field(default_factory=set)
    extra: str = ""

    def see(self, when: datetime, rule: str | None) -> None:
        self.first = min(self.first, when)
        self.last = max(self.last, when)
        self.count += 1
        if rule and len(self.rules) < 20:
            self.rules.add(rule)


@dataclass(slots=True)
class _Gathered:
    opened: datetime | None = None
    last: datetime | None = None
    texts: dict[str, _Seen] = field(default_factory=dict)  # (kind, excerpt) json -> seen
    ips: dict[str, _Seen] = field(default_factory=dict)
    keys: dict[str, _Seen] = field(default_factory=dict)  # sha256 of key -> seen
    atlas: set[str] = field(default_factory=set)
    owasp: set[str] = field(default_factory=set)
    campaigns: dict[str, _Seen] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    findings: int = 0
    alerts: int = 0


def _gather(incident: Mapping[str, Any], entries: Iterable[ChainEntry]) -> _Gathered:
    g = _Gathered()
    g.atlas.update(_strs(incident.get("atlas")))
    g.owasp.update(_strs(incident.get("owasp")))
    if incident.get("campaign"):
        g.members.setdefault(str(incident["campaign"]), set())
    for e in entries:
        when = datetime.fromisoformat(e.ts.replace("Z", "+00:00"))
        g.opened = g.opened or when
        g.last = when
        if e.kind not in (K.FINDING, K.ALERT, K.CAMPAIGN):
            continue
        try:
            body = json.loads(e.body)
        except ValueError:
            continue
        if not isinstance(body, dict):
            continue
        if e.kind == K.ALERT:
            g.alerts += 1
            labels = body.get("labels") if isinstance(body.get("labels"), dict) else {}
            assert isinstance(labels, dict)
            _see_ip(g, labels.get("ip") or labels.get("client_ip"), when, None)
            continue
        if e.kind == K.CAMPAIGN:
            name = body.get("campaign") or body.get("name") or body.get("id")
            if isinstance(name, str) and name:
                g.members.setdefault(name, set()).update(_strs(body.get("members"))[:10_000])
            continue
        g.findings += 1
        seen_at = parse_when(body.get("ts")) or when
        rule = f"{body.get('detector', 'unknown')}/{body.get('rule_id', 'unknown')}"
        g.atlas.update(_strs(body.get("atlas")))
        g.owasp.update(_strs(body.get("owasp")))
        _see_ip(g, body.get("ip"), seen_at, rule)
        key = body.get("key")
        if isinstance(key, str) and key and (key in g.keys or len(g.keys) < MAX_KEY_INDICATORS):
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
            g.keys.setdefault(digest, _Seen(seen_at, seen_at)).see(seen_at, rule)
        camp = body.get("campaign")
        if isinstance(camp, str) and camp:
            g.campaigns.setdefault(camp, _Seen(seen_at, seen_at)).see(seen_at, rule)
            members = g.members.setdefault(camp, set())
            if len(members) < 100_000:
                members.update(_strs(body.get("members")))
        label = _text_kind(body)
        evidence = body.get("evidence")
        if label and isinstance(evidence, list):
            for item in evidence[:5]:
                if not isinstance(item, dict) or not isinstance(item.get("excerpt"), str):
                    continue
                excerpt = item["excerpt"][:MAX_PATTERN_SOURCE]
                if not excerpt.strip():
                    continue
                k = json.dumps([label, excerpt])
                if k in g.texts or len(g.texts) < MAX_TEXT_INDICATORS:
                    g.texts.setdefault(k, _Seen(seen_at, seen_at)).see(seen_at, rule)
    return g


def _see_ip(g: _Gathered, value: Any, when: datetime, rule: str | None) -> None:
    ip = _public_ip(value)
    if ip is None:
        return
    text = str(ip)
    if text in g.ips or len(g.ips) < MAX_IP_INDICATORS:
        g.ips.setdefault(text, _Seen(when, when, extra=f"ipv{ip.version}")).see(when, rule)


def _marking(tlp: str) -> tuple[list[Any], list[Any]]:
    """(marking refs for objects, marking definitions to include)."""
    key = tlp.strip().lower().removeprefix("tlp:")
    base = TLP.get(key)
    if base is None:
        raise StixExportError(
            f"incident TLP {tlp!r} is not one of {', '.join(sorted(TLP))}; "
            "set it before sharing (`ircon incident show ID` shows it)")
    defs: list[Any] = [base]
    if key == "amber+strict":
        # TLP 2.0's AMBER+STRICT has no TLP 1.0 definition: AMBER plus a statement.
        defs.append(stix2.MarkingDefinition(
            id=_id("marking-definition", "tlp", "amber+strict"),
            created="2022-10-01T00:00:00.000Z",
            definition_type="statement",
            definition=stix2.StatementMarking(
                "TLP:AMBER+STRICT — share only within the recipient organization"),
        ))
    return defs, defs


def build(
    incident: Mapping[str, Any],
    entries: Iterable[ChainEntry],
    *,
    producer: str = "ircon",
) -> stix2.Bundle:
    """The incident's STIX 2.1 bundle (validated by ``stix2`` as it is built)."""
    hid = str(incident.get("human_id") or incident.get("id") or "unknown")
    g = _gather(incident, entries)
    refs, defs = _marking(str(incident.get("tlp") or "amber"))
    created = g.opened or parse_when(incident.get("created_at")) or datetime.now(UTC)
    published = g.last or created
    common: dict[str, Any] = {"created": created, "modified": published,
                              "object_marking_refs": refs}

    identity = stix2.Identity(
        id=_id("identity", "producer", producer), name=visible(producer, 100),
        identity_class="system", created=created, modified=created, object_marking_refs=refs)
    common["created_by_ref"] = identity.id
    objects: list[Any] = []

    names = reference_names([*g.atlas, *g.owasp])
    patterns: dict[str, Any] = {}
    for t in sorted(g.atlas):
        patterns[t] = stix2.AttackPattern(
            id=_id("attack-pattern", "atlas", t),
            name=f"{t} {names[t]}" if t in names else t,
            description=f"MITRE ATLAS technique {t}" + (f" ({names[t]})" if t in names else "")
            + ", observed in incident " + hid + ".",
            external_references=[{"source_name": "mitre-atlas", "external_id": t,
                                  "url": ATLAS_URL.format(t)}],
            **common)
    objects.extend(patterns.values())

    campaigns: dict[str, Any] = {}
    for name in sorted(set(g.campaigns) | set(g.members)):
        seen = g.campaigns.get(name)
        n_members = len(g.members.get(name, ()))
        extra: dict[str, Any] = {}
        if seen:
            extra = {"first_seen": seen.first, "last_seen": max(seen.last, seen.first)}
        campaigns[name] = stix2.Campaign(
            id=_id("campaign", hid, name),
            name=f"{hid} campaign {visible(name, 80)}",
            description=(f"Correlated activity grouped by ircon under signature "
                         f"{visible(name, 80)}: {n_members} member(s) (keys, users or "
                         f"addresses; not shared), {seen.count if seen else 0} finding(s)."),
            **extra, **common)
    objects.extend(campaigns.values())

    indicators: list[Any] = []
    for k, seen in sorted(g.texts.items()):
        label, excerpt = json.loads(k)
        digest = hashlib.sha256(excerpt.encode("utf-8")).hexdigest()
        indicators.append(stix2.Indicator(
            id=_id("indicator", hid, "text", digest),
            name=f"{label.capitalize()} seen in {hid}",
            description=(f"Attacker text ({label}) from detector evidence, matched literally "
                         f"by the PCRE pattern; SHA-256 of the text {digest}. Seen "
                         f"{seen.count} time(s) by {', '.join(sorted(seen.rules))}."),
            indicator_types=["malicious-activity"], pattern=pcre_literal(excerpt),
            pattern_type="pcre", valid_from=seen.first, **common))
    for ip, seen in sorted(g.ips.items()):
        indicators.append(stix2.Indicator(
            id=_id("indicator", hid, "ip", ip),
            name=f"Abusive source address {ip}",
            description=f"Source of {seen.count} finding(s) or alert(s) in {hid}.",
            indicator_types=["malicious-activity"],
            pattern=f"[{seen.extra}-addr:value = '{ip}']", pattern_type="stix",
            valid_from=seen.first, **common))
    for digest, seen in sorted(g.keys.items()):
        indicators.append(stix2.Indicator(
            id=_id("indicator", hid, "key", digest),
            name=f"API key used in {hid} (SHA-256 only)",
            description=("SHA-256 of an API key (or key alias) the attack used; the key itself "
                         f"is not shared. Seen in {seen.count} finding(s)."),
            indicator_types=["compromised"],
            pattern=f"[artifact:hashes.'SHA-256' = '{digest}']", pattern_type="stix",
            valid_from=seen.first, **common))
    objects.extend(indicators)

    relationships: list[Any] = []

    def relate(src: Any, rel: str, dst: Any) -> None:
        relationships.append(stix2.Relationship(
            id=_id("relationship", src.id, rel, dst.id), relationship_type=rel,
            source_ref=src.id, target_ref=dst.id, **common))

    for camp in campaigns.values():
        for ap in patterns.values():
            relate(camp, "uses", ap)
    for ind in indicators:
        if campaigns:
            for camp in campaigns.values():
                relate(ind, "indicates", camp)
        else:
            for ap in patterns.values():
                relate(ind, "indicates", ap)
    objects.extend(relationships)

    owasp_refs = [{"source_name": "owasp-llm-top-10", "external_id": o,
                   **({"description": names[o]} if o in names else {})}
                  for o in sorted(g.owasp)]
    title = visible(str(incident.get("title") or "untitled"), 200)
    report = stix2.Report(
        id=_id("report", hid),
        name=f"{hid}: {title}",
        description=(f"{incident.get('severity', 'unknown')} {incident.get('kind', 'unknown')} "
                     f"incident handled with ircon: {g.alerts} alert(s), {g.findings} "
                     f"finding(s), {len(indicators)} indicator(s). ATLAS: "
                     f"{', '.join(sorted(g.atlas)) or 'none'}; OWASP LLM: "
                     f"{', '.join(sorted(g.owasp)) or 'none'}."),
        report_types=["threat-report"],
        published=published,
        object_refs=[identity.id] + [o.id for o in objects],
        external_references=[{"source_name": "ircon", "external_id": hid}, *owasp_refs],
        **common)
    bundle = stix2.Bundle(
        objects=[*defs, identity, *objects, report],
        id=_id("bundle", hid, published.isoformat()),
        allow_custom=False)
    return bundle


def to_json(bundle: stix2.Bundle) -> str:
    """Serialized and parsed back with ``stix2`` (strict: no custom content)."""
    # stix2's own pretty printer sorts properties in quadratic time; indent its plain output.
    text = bundle.serialize()
    stix2.parse(text, allow_custom=False)
    return json.dumps(json.loads(text), indent=2) + "\n"


def export(store: Any, incident: str, *, producer: str = "ircon") -> str:
    """The incident's STIX bundle as JSON text."""
    from ircon.store import incidents, journal

    inc = incidents.get(store, incident)
    return to_json(build(inc, journal.iter_entries(store, incident), producer=producer))
