"""Prometheus Alertmanager as an alert source: API v2 pulls and webhook (v4) archives.

Alertmanager's own fingerprint and grouping are kept. Everything in a
response is treated as hostile: the body size is capped, every label is
bounded, malformed items are skipped with a reason (and then the pull is not
"complete", so nothing is wrongly marked resolved).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from ircon.model.alert import AlertIn
from ircon.model.text import one_line
from ircon.sources.base import PullResult, SourceError, SourceHealth
from ircon.sources.settings import AlertmanagerSource

MAX_LABELS = 256
MAX_KEY_CHARS = 1024
MAX_VALUE_CHARS = 64 * 1024
MAX_URL_CHARS = 4096
MAX_GROUP_KEY_CHARS = 4096
MAX_WEBHOOK_LINE = 64 * 1024 * 1024
_FP_RE = re.compile(r"^[0-9a-fA-F]{1,64}$")
_STATES = ("active", "suppressed", "unprocessed")
_ZERO_YEAR = 1  # Alertmanager's "no end" is 0001-01-01T00:00:00Z


# --- pure helpers -----------------------------------------------------------------------------


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (FNV-1a 64 over sorted name/value pairs)."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in part.encode("utf-8", "surrogatepass"):
                h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ 0xFF) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (nanoseconds allowed) -> aware UTC; the zero time and junk -> None."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    return _parse_time(value)


@functools.lru_cache(maxsize=8192)  # alerts of one rule evaluation share their timestamps
def _parse_time(value: str) -> datetime | None:
    s = value.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", s)
    if m and m.group(2) and len(m.group(2)) > 7:
        s = m.group(1) + m.group(2)[:7] + m.group(3)  # Python takes at most microseconds
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.year <= _ZERO_YEAR:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _cut(s: str, limit: int) -> tuple[str, bool]:
    if len(s) <= limit:
        return s, False
    return s[:limit] + f"…[+{len(s) - limit} chars]", True


def bounded_map(obj: Any, what: str) -> tuple[dict[str, str], bool]:
    """A label/annotation map with string values, bounded in count and size."""
    if obj is None:
        return {}, False
    if not isinstance(obj, dict):
        raise ValueError(f"{what} is not an object")
    if len(obj) <= MAX_LABELS and all(
        type(v) is str and len(v) <= MAX_VALUE_CHARS and len(k) <= MAX_KEY_CHARS
        for k, v in obj.items()
    ):
        return dict(obj), False  # the common case: nothing to convert or cut
    out: dict[str, str] = {}
    cut = False
    for i, (k, v) in enumerate(obj.items()):
        if i >= MAX_LABELS:
            cut = True
            break
        if not isinstance(v, str):
            if isinstance(v, bool | int | float) or v is None:
                v = "" if v is None else json.dumps(v)
            else:
                raise ValueError(f"{what} {one_line(str(k), 40)} is not a string")
        key, c1 = _cut(str(k), MAX_KEY_CHARS)
        val, c2 = _cut(v, MAX_VALUE_CHARS)
        out[key] = val
        cut = cut or c1 or c2
    return out, cut


def normalize(
    obj: Any,
    source: str,
    *,
    now: datetime,
    group_key: str | None = None,
    status: str | None = None,
    state: str | None = None,
    extra_raw: dict[str, Any] | None = None,
) -> AlertIn:
    """One Alertmanager alert object (API v2 or webhook) -> AlertIn; ValueError says why not."""
    if not isinstance(obj, dict):
        raise ValueError("alert is not an object")
    raw_labels = obj.get("labels")
    if not isinstance(raw_labels, dict) or not raw_labels:
        raise ValueError("alert has no labels")
    labels, cut_l = bounded_map(raw_labels, "label")
    annotations, cut_a = bounded_map(obj.get("annotations"), "annotation")
    fp = obj.get("fingerprint")
    if not isinstance(fp, str) or not _FP_RE.match(fp):
        # Computed from the untruncated labels, as Alertmanager does.
        if not all(isinstance(v, str) for v in raw_labels.values()):
            raise ValueError("alert has no usable fingerprint")
        fp = labels_fingerprint(raw_labels)
    starts = parse_time(obj.get("startsAt"))
    ends = parse_time(obj.get("endsAt"))
    if state is None:
        st = obj.get("status")
        raw_state = st.get("state") if isinstance(st, dict) else None
        state = raw_state if raw_state in _STATES else "active"
    if status is None:
        s = obj.get("status")
        status = s if s in ("firing", "resolved") else "firing"
    if status == "firing" and ends is not None and ends <= now:
        status = "resolved"  # endsAt passed: Alertmanager considers it resolved
    gen = obj.get("generatorURL")
    gen_url = _cut(gen, MAX_URL_CHARS)[0] if isinstance(gen, str) and gen else None
    raw = {k: v for k, v in obj.items() if k not in ("labels", "annotations")}
    raw["labels"], raw["annotations"] = labels, annotations
    if cut_l or cut_a:
        raw["ircon_truncated"] = True
    if extra_raw:
        raw.update(extra_raw)
    return AlertIn(
        source=source, fingerprint=fp.lower(), labels=labels, annotations=annotations,
        status="resolved" if status == "resolved" else "firing", starts_at=starts,
        ends_at=ends, generator_url=gen_url, group_key=group_key, raw=raw, state=state,
    )


def group_key_of(receiver: str, labels: Mapping[str, str]) -> str:
    """A stable key for one Alertmanager aggregation group: receiver + group labels.

    The API does not expose the route part of Alertmanager's internal group
    key, so the receiver stands in for it.
    """
    inner = ",".join(f"{k}={json.dumps(labels[k], ensure_ascii=False)}" for k in sorted(labels))
    return _cut(f"{receiver}:{{{inner}}}", MAX_GROUP_KEY_CHARS)[0]


def parse_groups(data: Any) -> dict[str, str]:
    """fingerprint -> group key from an /api/v2/alerts/groups answer."""
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of groups, got {type(data).__name__}")
    keys: dict[str, str] = {}
    for g in data:
        if not isinstance(g, dict):
            continue
        recv = g.get("receiver")
        rname = recv.get("name") if isinstance(recv, dict) else None
        glabels, _ = bounded_map(g.get("labels"), "group label")
        key = group_key_of(str(rname or ""), glabels)
        for a in g.get("alerts") or []:
            fp = a.get("fingerprint") if isinstance(a, dict) else None
            if not isinstance(fp, str):
                continue
            fp = fp.lower()
            if fp not in keys or key < keys[fp]:
                keys[fp] = key  # an alert in several groups: the smallest key, stably
    return keys


def parse_alerts(
    data: Any, source: str, *, now: datetime, group_keys: Mapping[str, str] | None = None
) -> PullResult:
    """An /api/v2/alerts answer -> PullResult; complete only if no item was skipped."""
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of alerts, got {type(data).__name__}")
    res = PullResult(complete=True)
    gk = group_keys or {}
    for i, obj in enumerate(data):
        try:
            fp = obj.get("fingerprint") if isinstance(obj, dict) else None
            key = gk.get(fp.lower()) if isinstance(fp, str) else None
            res.alerts.append(normalize(obj, source, now=now, group_key=key))
        except ValueError as exc:
            res.skipped.append((source, i, str(exc)))
            res.complete = False
    return res


def _json_or_none(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def parse_webhook(data: bytes, source: str, *, origin: str = "webhook",
                  now: datetime | None = None) -> PullResult:
    """Alertmanager webhook payloads (version 4): one JSON object, a JSON list, or JSONL.

    Bad lines are skipped with (origin, line, reason); the rest is read.
    Payloads are kept in order, so a later "resolved" follows an earlier "firing".
    """
    now = now or datetime.now(UTC)
    res = PullResult(complete=False)
    body = data.removeprefix(b"\xef\xbb\xbf")
    payloads: list[tuple[int, Any]] = []
    whole = _json_or_none(body) if body.lstrip()[:1] in (b"{", b"[") else None
    if isinstance(whole, list):
        payloads = [(1, p) for p in whole]
    elif isinstance(whole, dict):
        payloads = [(1, whole)]
    else:
        for n, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            if len(line) > MAX_WEBHOOK_LINE:
                res.skipped.append((origin, n, f"line longer than {MAX_WEBHOOK_LINE} bytes"))
                continue
            try:
                payloads.append((n, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                res.skipped.append((origin, n, f"not JSON ({one_line(str(exc), 120)})"))
    for n, p in payloads:
        _webhook_payload(p, source, origin, n, now, res)
    return res


def _webhook_payload(
    p: Any, source: str, origin: str, n: int, now: datetime, res: PullResult
) -> None:
    if not isinstance(p, dict) or not isinstance(p.get("alerts"), list):
        res.skipped.append((origin, n, "not an Alertmanager webhook payload (no alerts list)"))
        return
    version = p.get("version")
    if version is not None and str(version) != "4":
        res.skipped.append(
            (origin, n, f"webhook version {one_line(str(version), 20)} (only 4 is understood)")
        )
        return
    gk = p.get("groupKey")
    group_key = _cut(gk, MAX_GROUP_KEY_CHARS)[0] if isinstance(gk, str) and gk else None
    context = {
        "webhook": {
            k: p[k] for k in ("receiver", "groupKey", "externalURL")
            if isinstance(p.get(k), str) and len(p[k]) <= MAX_URL_CHARS
        }
    }
    for i, a in enumerate(p["alerts"]):
        try:
            st = a.get("status") if isinstance(a, dict) else None
            status = st if st in ("firing", "resolved") else p.get("status")
            res.alerts.append(
                normalize(a, source, now=now, group_key=group_key,
                          status=status if isinstance(status, str) else None,
                          state="active", extra_raw=context)
            )
        except ValueError as exc:
            res.skipped.append((origin, n, f"alert {i}: {exc}"))
    trunc = p.get("truncatedAlerts")
    if isinstance(trunc, int) and trunc > 0:
        res.skipped.append((origin, n, f"Alertmanager left {trunc} alert(s) out of this payload"))


# --- the client -------------------------------------------------------------------------------


@dataclass(slots=True)
class AlertmanagerStatus:
    version: str
    uptime: datetime | None
    cluster: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "cluster": self.cluster,
            "uptime": self.uptime.isoformat() if self.uptime else None,
        }


class AlertmanagerClient:
    """One configured Alertmanager. ``pull()`` raises SourceError with the cause."""

    def __init__(self, cfg: AlertmanagerSource) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.health = SourceHealth()
        self.base = cfg.url.rstrip("/")
        self._client: httpx.AsyncClient | None = None
        self._max_bytes = int(cfg.max_response_mb * 1024 * 1024)

    # Secrets are resolved on first use, so `config check` and `--help` never need them.
    def _make_client(self) -> httpx.AsyncClient:
        from ircon.secrets import SecretError, resolve

        cfg = self.cfg
        headers = {"Accept": "application/json", "User-Agent": "ircon"}
        auth: httpx.Auth | None = None
        try:
            if cfg.bearer_token:
                headers["Authorization"] = f"Bearer {resolve(cfg.bearer_token)}"
            if cfg.basic_user is not None:
                pw = resolve(cfg.basic_password) if cfg.basic_password else ""
                auth = httpx.BasicAuth(cfg.basic_user, pw)
        except SecretError as exc:
            raise SourceError(f"{self.name}: {exc}") from exc
        verify: ssl.SSLContext | bool = cfg.verify_tls
        try:
            if cfg.ca_file or cfg.client_cert:
                ctx = ssl.create_default_context(cafile=cfg.ca_file)
                if not cfg.verify_tls:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                if cfg.client_cert:
                    ctx.load_cert_chain(cfg.client_cert, cfg.client_key)
                verify = ctx
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(f"{self.name}: TLS files: {exc}") from exc
        return httpx.AsyncClient(
            base_url=self.base, headers=headers, auth=auth, verify=verify,
            timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False,
        )

    def _params(self) -> list[tuple[str, str]]:
        c = self.cfg
        params = [
            ("active", str(c.active).lower()), ("silenced", str(c.silenced).lower()),
            ("inhibited", str(c.inhibited).lower()),
        ]
        params += [("filter", f) for f in c.filter]
        if c.receiver:
            params.append(("receiver", c.receiver))
        return params

    async def _get_json(self, path: str, params: list[tuple[str, str]]) -> Any:
        if self._client is None:
            self._client = self._make_client()
        where = f"{self.base}{path}"
        try:
            async with self._client.stream("GET", path, params=tuple(params)) as resp:
                chunks: list[bytes] = []
                size = 0
                if resp.status_code >= 400:
                    async for chunk in resp.aiter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > 2048:
                            break
                    text = b"".join(chunks)[:300].decode("utf-8", "replace")
                    hint = " (check the credentials)" if resp.status_code in (401, 403) else ""
                    raise SourceError(
                        f"{where} answered HTTP {resp.status_code}{hint}: {one_line(text, 200)}"
                    )
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self._max_bytes:
                    raise SourceError(self._too_big(where))
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise SourceError(self._too_big(where))
                    chunks.append(chunk)
        except httpx.ConnectError as exc:
            raise SourceError(f"cannot connect to {where}: {one_line(str(exc), 200)}") from exc
        except httpx.TimeoutException as exc:
            raise SourceError(f"no answer from {where} within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise SourceError(
                f"{where}: transfer failed ({type(exc).__name__}: {one_line(str(exc), 200)})"
            ) from exc
        body = b"".join(chunks)
        try:
            if len(body) > 1_000_000:
                return await asyncio.to_thread(orjson.loads, body)
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SourceError(
                f"{where} returned malformed JSON ({one_line(str(exc), 160)}; "
                f"{len(body)} bytes)"
            ) from exc

    def _too_big(self, where: str) -> str:
        return (f"{where}: response larger than {self.cfg.max_response_mb:g} MiB — narrow the "
                "source's filter or raise max_response_mb")

    async def pull(self) -> PullResult:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._pull()
        except TimeoutError as exc:
            raise SourceError(
                f"{self.base}: pull took longer than {self.timeout:g} s (timeout)"
            ) from exc

    async def _pull(self) -> PullResult:
        params = [*self._params(), ("unprocessed", str(self.cfg.unprocessed).lower())]
        if self.cfg.fetch_groups:
            alerts_data, groups_data = await asyncio.gather(
                self._get_json("/api/v2/alerts", params),
                self._get_json("/api/v2/alerts/groups", self._params()),
            )
        else:
            alerts_data, groups_data = await self._get_json("/api/v2/alerts", params), None
        now = datetime.now(UTC)
        if not isinstance(alerts_data, list):
            raise SourceError(f"{self.base}/api/v2/alerts: expected a JSON list of alerts, got "
                              f"{type(alerts_data).__name__}")
        try:
            keys = parse_groups(groups_data) if groups_data is not None else {}
            if len(alerts_data) > 20_000:
                return await asyncio.to_thread(
                    parse_alerts, alerts_data, self.name, now=now, group_keys=keys
                )
            return parse_alerts(alerts_data, self.name, now=now, group_keys=keys)
        except ValueError as exc:
            raise SourceError(f"{self.base}: {exc}") from exc

    async def status(self) -> AlertmanagerStatus:
        """Alertmanager's own health (/api/v2/status); SourceError when it cannot say."""
        t0 = time.perf_counter()
        data = await self._get_json("/api/v2/status", [])
        if not isinstance(data, dict):
            raise SourceError(f"{self.base}/api/v2/status: expected an object")
        self.health.latency_ms = (time.perf_counter() - t0) * 1000
        vi = data.get("versionInfo") if isinstance(data.get("versionInfo"), dict) else {}
        cl = data.get("cluster") if isinstance(data.get("cluster"), dict) else {}
        return AlertmanagerStatus(
            version=one_line(str((vi or {}).get("version", "?")), 40),
            uptime=parse_time(data.get("uptime")),
            cluster=one_line(str((cl or {}).get("status", "?")), 40),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def from_config(cfg: AlertmanagerSource) -> AlertmanagerClient:
    return AlertmanagerClient(cfg)


def ad_hoc(url: str, name: str = "alertmanager", timeout: float = 10.0) -> AlertmanagerClient:
    """A client for ``ircon alerts pull --alertmanager URL`` (no config needed)."""
    return AlertmanagerClient(AlertmanagerSource(name=name, url=url, timeout=timeout))
