"""Command palette providers: every action, every incident, every playbook."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ircon.tui import safe

if TYPE_CHECKING:
    from ircon.tui.app import IrconApp


class ActionsProvider(Provider):
    """The bindings of the screen the palette was opened from, by description."""

    def _actions(self) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            b = active.binding
            if not b.description or b.action in seen or not active.enabled:
                continue
            if b.action in ("command_palette", "app.command_palette"):
                continue
            seen.add(b.action)
            key = self.app.get_key_display(b)
            out.append((b.description, b.action, key))
        return out

    async def discover(self) -> Hits:
        for desc, action, key in self._actions():
            yield DiscoveryHit(desc, partial(self._run, action), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for desc, action, key in self._actions():
            score = matcher.match(desc)
            if score > 0:
                yield Hit(score, matcher.highlight(desc), partial(self._run, action),
                          text=desc, help=f"key: {key}")

    async def _run(self, action: str) -> None:
        await self.screen.run_action(action)


class IncidentsProvider(Provider):
    """Incidents by id or title, searched in SQL (never the whole table in memory)."""

    @property
    def irc(self) -> IrconApp:
        return self.app  # type: ignore[return-value]

    async def _rows(self, query: str) -> list[Any]:
        store = self.irc.store
        if store is None:
            return []
        from ircon.tui import services

        words = " ".join(query.split()[:4])
        return await asyncio.to_thread(services.search_incidents, store, words, limit=20)

    def _hit_text(self, r: Any) -> str:
        return f"{r.id} {r.severity} {r.status} {safe.plain(r.title, 80)}"

    async def discover(self) -> Hits:
        for r in await self._rows(""):
            yield DiscoveryHit(
                safe.label(self._hit_text(r)), partial(self.irc.open_incident, r.id),
                text=self._hit_text(r), help="open the incident",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        rows = await self._rows(query)
        if not rows:
            rows = await self._rows("")
        for r in rows:
            text = self._hit_text(r)
            score = matcher.match(text)
            if score > 0 or query.lower() in text.lower():
                yield Hit(max(score, 0.5), matcher.highlight(safe.label(text)),
                          partial(self.irc.open_incident, r.id), text=text,
                          help="open the incident")


class PlaybooksProvider(Provider):
    """Playbooks by name; on an incident, choosing one starts it there."""

    async def _books(self) -> list[tuple[str, str]]:
        from ircon.tui import services

        app: Any = self.app
        return await asyncio.to_thread(services.list_playbooks, app.loaded)

    def _start(self, name: str) -> None:
        starter = getattr(self.screen, "start_playbook", None)
        if starter is None:
            self.app.notify(f"open an incident to run playbook {name}", markup=False)
            return
        starter(name)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, title in await self._books():
            text = f"playbook {name}: {title}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(safe.label(text)),
                          partial(self._start, name), text=text,
                          help="start this playbook on the open incident")
