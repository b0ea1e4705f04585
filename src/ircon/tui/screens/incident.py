"""The incident command post: summary, playbook checklist, escalation, journal timeline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ircon.tui import safe
from ircon.tui.screens.base import IrconScreen, notice_text
from ircon.tui.screens.common import SEV_STYLE, STATUS_STYLE
from ircon.tui.timefmt import age, countdown, stamp
from ircon.tui.widgets.timeline import Timeline
from ircon.tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    from collections.abc import Callable

    from ircon.model.journal import ChainEntry
    from ircon.tui.services import (
        EscalationView,
        IncidentView,
        PlaybookView,
        StepView,
    )

A = TypeVar("A")  # what a dialog answers

STEP_MARK = {"done": ("✓", "green"), "skipped": ("–", "dim"), "failed": ("✖", "bold red"),
             "in_progress": ("▶", "bold"), "pending": ("·", "")}


@dataclass(frozen=True, slots=True)
class Snapshot:
    view: IncidentView
    entries: list[ChainEntry]
    playbook: PlaybookView
    escalation: EscalationView


class IncidentScreen(IrconScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("n", "note", "Note", id="note"),
        Binding("a", "acknowledge", "Ack", id="acknowledge"),
        Binding("s", "severity", "Severity", id="severity"),
        Binding("t", "status", "Status", id="status"),
        Binding("r", "resolve", "Resolve", id="resolve"),
        Binding("c", "take_command", "Take cmd", id="take_command"),
        Binding("h", "hand_over", "Hand over", show=False, id="hand_over"),
        Binding("p", "playbook", "Playbook", show=False, id="playbook"),
        Binding("x", "run_step", "Run step", show=False, id="run_step"),
        Binding("d", "decide", "Decide", show=False, id="decide"),
        Binding("k", "step_done", "Step done", show=False, id="step_done"),
        Binding("m", "postmortem", "Post-mortem", show=False, id="postmortem"),
    ]

    def __init__(self, human_id: str) -> None:
        super().__init__()
        self.human_id = human_id
        self.view: IncidentView | None = None
        self.playbook: PlaybookView | None = None
        self.escalation: EscalationView | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(id="summary", classes="summary")
        with Horizontal(id="post"):
            with VerticalScroll(id="side"):
                yield Static(id="step", classes="panel")
                yield Static(id="ladder", classes="panel")
                yield Static(id="checklist", classes="panel")
            yield Timeline(self.irc.tz, id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TopBar).show(self.human_id, "loading…", self.irc.actor)
        tl = self.query_one(Timeline)
        tl.border_title = tl.title_for(self.irc.now())
        self.query_one("#checklist").border_title = "Playbook"
        self.query_one("#ladder").border_title = "Escalation & clocks"
        self.set_interval(1.0, self._tick, name="countdowns")
        tl.focus()

    def reload(self) -> None:
        store, loaded, hid = self.irc.store, self.irc.loaded, self.human_id
        if store is None:
            return
        tl = self.query_one(Timeline)
        after = tl.last_seq if tl.last_seq else None
        now = self.irc.now()

        def load() -> Snapshot:
            from ircon.tui import services

            return Snapshot(
                services.incident_view(store, hid),
                services.timeline(store, hid, after_seq=after),
                services.playbook_view(store, loaded, hid, now=now),
                services.escalation_view(store, loaded, hid, now),
            )

        self.io(load, self._show, group="load")

    def _show(self, snap: Snapshot) -> None:
        self.view, self.playbook, self.escalation = snap.view, snap.playbook, snap.escalation
        self.query_one(Timeline).add(snap.entries)
        self._paint_summary()
        self._paint_playbook()
        self._paint_ladder()

    def _tick(self) -> None:
        if self.view is not None:
            self._paint_summary()
            self._paint_ladder()

    def _paint_summary(self) -> None:
        v = self.view
        if v is None:
            return
        now = self.irc.now()
        self.query_one(TopBar).show(
            v.id, f"{v.severity} · {v.status} · {v.entries} entries · {v.alerts} alerts",
            self.irc.actor,
        )
        out = Text(end="", no_wrap=False)
        sev_style = SEV_STYLE.get(v.severity, "")
        out.append(f" {v.severity} ",
                   style=sev_style if "reverse" in sev_style else f"{sev_style} reverse")
        out.append(" ")
        out.append(v.status.upper(), style=STATUS_STYLE.get(v.status, "") or "bold")
        out.append("  ")
        out.append_text(safe.text(v.title, 200, style="bold"))
        out.append("\ncommander: ", style="dim")
        out.append_text(safe.text(v.commander or "nobody — press c to take command", 60,
                                  style="bold"))
        out.append("  opened: ", style="dim")
        out.append(f"{stamp(v.created_at, self.irc.tz)}, {age(v.created_at, now)} ago")
        if v.severity_reasons:
            out.append("\nwhy: ", style="dim")
            out.append_text(safe.text("; ".join(v.severity_reasons), 300))
        self.query_one("#summary", Static).update(out)

    def _paint_playbook(self) -> None:
        pb = self.playbook
        box = self.query_one("#checklist", Static)
        step_box = self.query_one("#step", Static)
        if pb is None:
            return
        out = Text(end="")
        if pb.name:
            out.append_text(safe.text(pb.name, 60, style="bold"))
            out.append("\n")
        if not pb.steps:
            out.append(pb.note or "no steps", style="dim")
            if not pb.name:
                out.append("\np: start a playbook", style="dim")
        # Done steps, the current one and a few ahead: the whole list is in the journal.
        idx = next((i for i, s in enumerate(pb.steps) if s.id == pb.current), len(pb.steps))
        shown = [s for s in pb.steps[:idx] if s.state != "pending"] + pb.steps[idx:idx + 4]
        for s in shown:
            mark, style = STEP_MARK.get(s.state, ("?", ""))
            cur = s.id == pb.current
            out.append(f"{'▶' if cur else mark} ", style="bold" if cur else style)
            out.append_text(safe.text(s.title, 60, style="bold" if cur else
                                      ("dim" if s.state in ("done", "skipped") else "")))
            out.append("\n")
        rest = len(pb.steps) - idx - 4
        if rest > 0:
            out.append(f"… {rest} more steps", style="dim")
        box.update(out)
        current = self._current_step()
        step_box.display = current is not None
        if current is not None:
            step_box.border_title = "Current step"
            st = Text(end="")
            st.append_text(safe.text(current.title, 100, style="bold"))
            st.append("\n")
            if current.instructions:
                st.append_text(safe.block(current.instructions, 4000))
                st.append("\n")
            keys = []
            if current.has_action:
                keys.append("x: run its action")
            if current.options:
                keys.append("d: decide")
            keys.append("k: mark done")
            st.append(" · ".join(keys), style="dim")
            step_box.update(st)

    def _paint_ladder(self) -> None:
        esc = self.escalation
        if esc is None:
            return
        now = self.irc.now()
        out = Text(end="")
        if esc.note:
            out.append(esc.note + "\n", style="dim")
        for title, rows in (("ladder", esc.ladder), ("clocks", esc.clocks)):
            if not rows:
                continue
            out.append(f"{title}\n", style="bold underline")
            for c in rows:
                out.append_text(safe.text(c.name, 30, style="bold"))
                if c.detail:
                    out.append(" ")
                    out.append_text(safe.text(c.detail, 40, style="dim"))
                out.append(" ")
                if c.state in ("pending", "running"):
                    left = countdown(c.due, now)
                    out.append(left, style="bold red" if left.startswith("OVERDUE") else "bold")
                elif c.state in ("due", "breached"):
                    out.append(c.state.upper(), style="bold reverse red")
                else:
                    out.append(c.state, style="dim")
                out.append("\n")
        self.query_one("#ladder", Static).update(out)

    def _current_step(self) -> StepView | None:
        pb = self.playbook
        if pb is None or pb.current is None:
            return None
        return next((s for s in pb.steps if s.id == pb.current), None)

    # --- writes ------------------------------------------------------------------------

    def _write(self, fn: object, ok: str) -> None:
        self.io(fn, lambda _: self.irc.poke(), ok=ok)  # type: ignore[arg-type]

    def _ask(self, modal: Screen[A], write: Callable[[A], object],
             ok: Callable[[A], str]) -> None:
        """Show ``modal``; once it is answered, store ``write(answer)`` and say ``ok(answer)``.

        Esc (None) and an empty line write nothing.
        """

        def answered(answer: A | None) -> None:
            if answer:
                self._write(lambda: write(answer), ok(answer))

        self.app.push_screen(modal, answered)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_note(self) -> None:
        from ircon.tui import services
        from ircon.tui.screens.modals import PromptScreen

        store, hid, actor = self.irc.store, self.human_id, self.irc.actor
        if store is None:
            return
        self._ask(PromptScreen(f"Note on {hid}", "what happened, what you saw"),
                  lambda text: services.add_note(store, hid, text, actor=actor),
                  lambda _: "note added")

    def action_acknowledge(self) -> None:
        store, loaded, hid, actor = self.irc.store, self.irc.loaded, self.human_id, self.irc.actor
        if store is None or self.view is None:
            return
        if self.view.status != "open":
            self.notify(f"{hid} is already {self.view.status}", markup=False)
            return
        from ircon.tui import services

        self._write(lambda: services.acknowledge_page(store, loaded, hid, actor=actor),
                    "acknowledged")

    def _change(self, what: str, choices: Callable[[], list[tuple[str, str]]],
                current: Callable[[IncidentView], str], change: Callable[..., object]) -> None:
        """Pick a new value of ``what`` with a reason, then store it with ``change``.

        ``choices`` and ``current`` run only once an incident is on screen.
        """
        from ircon.tui.screens.modals import ChoiceScreen

        store, hid, actor = self.irc.store, self.human_id, self.irc.actor
        if store is None or self.view is None:
            return
        self._ask(ChoiceScreen(f"{what} of {hid}", choices(), current=current(self.view)),
                  lambda answer: change(store, hid, *answer, actor=actor),
                  lambda answer: f"{what.lower()} is now {answer[0]}")

    def action_severity(self) -> None:
        from ircon.tui import services
        from ircon.tui.screens.modals import severity_choices

        self._change("Severity", severity_choices, lambda v: v.severity,
                     services.change_severity)

    def action_status(self, preset: str | None = None) -> None:
        from ircon.tui import services
        from ircon.tui.screens.modals import status_choices

        self._change("Status", status_choices, lambda v: preset or v.status,
                     services.change_status)

    def action_resolve(self) -> None:
        self.action_status(preset="resolved")

    def action_take_command(self) -> None:
        store, hid, actor = self.irc.store, self.human_id, self.irc.actor
        if store is None:
            return
        if self.view is not None and self.view.commander == actor:
            self.notify("you are already the commander (h hands over)", markup=False)
            return
        from ircon.tui import services

        self._write(lambda: services.set_commander(store, hid, actor, actor=actor),
                    "you are the incident commander")

    def action_hand_over(self) -> None:
        from ircon.tui import services
        from ircon.tui.screens.modals import PromptScreen

        store, hid, actor = self.irc.store, self.human_id, self.irc.actor
        if store is None:
            return
        self._ask(PromptScreen(f"Hand over command of {hid} to", "user@host", max_length=200),
                  lambda person: services.set_commander(store, hid, person, actor=actor),
                  lambda person: f"command handed over to {person}")

    def action_playbook(self) -> None:
        from ircon.tui.screens.modals import ChoiceScreen

        store, loaded, hid, actor = self.irc.store, self.irc.loaded, self.human_id, self.irc.actor
        if store is None:
            return
        from ircon.tui import services

        books = services.list_playbooks(loaded)
        if not books:
            self.notify("no playbooks are available in this build", markup=False)
            return

        self._ask(ChoiceScreen(f"Run a playbook on {hid}", books, reason_required=False),
                  lambda answer: services.start_playbook(store, loaded, hid, answer[0],
                                                         actor=actor),
                  lambda answer: f"playbook {answer[0]} started")

    def start_playbook(self, name: str) -> None:
        """From the command palette."""
        store, loaded, hid, actor = self.irc.store, self.irc.loaded, self.human_id, self.irc.actor
        if store is None:
            return
        from ircon.tui import services

        self._write(lambda: services.start_playbook(store, loaded, hid, name, actor=actor),
                    f"playbook {name} started")

    def action_step_done(self) -> None:
        step = self._current_step()
        store, hid, actor = self.irc.store, self.human_id, self.irc.actor
        if step is None or store is None:
            self.notify("no current step", markup=False)
            return
        from ircon.tui import services

        self._write(
            lambda: services.record_step(store, hid, step.id, "done", "", actor=actor),
            f"step {step.id} done",
        )

    def action_decide(self) -> None:
        from ircon.tui import services
        from ircon.tui.screens.modals import ChoiceScreen

        step = self._current_step()
        store, hid, actor = self.irc.store, self.human_id, self.irc.actor
        if step is None or not step.options or store is None:
            self.notify("the current step has no decision", markup=False)
            return
        self._ask(ChoiceScreen(step.title, step.options, reason_required=False),
                  lambda answer: services.record_decision(store, hid, step.id, answer[0],
                                                          actor=actor),
                  lambda answer: f"decided: {answer[0]}")

    def action_run_step(self) -> None:
        step = self._current_step()
        if step is None or not step.has_action or self.irc.store is None:
            self.notify("the current step has no action to run", markup=False)
            return
        self._run_step(step.id)

    @work(exclusive=True, group="run_step", exit_on_error=False)
    async def _run_step(self, step_id: str) -> None:
        """Instance, inputs, preview, confirmation, live result: each a dialog in turn."""
        from ircon.tui import services
        from ircon.tui.screens.modals import ActionScreen, ChoiceScreen, PromptScreen

        store, loaded, hid, actor = self.irc.store, self.irc.loaded, self.human_id, self.irc.actor
        assert store is not None
        try:
            instances = await asyncio.to_thread(
                services.step_instances, store, loaded, hid, step_id)
            needed = await asyncio.to_thread(services.step_inputs, store, hid, step_id)
        except Exception as exc:  # shown, never fatal: nothing has been sent
            self.notify(notice_text(str(exc)), severity="error", markup=False, timeout=10)
            return
        instance = instances[0]
        if len(instances) > 1:
            picked = await self.app.push_screen_wait(ChoiceScreen(
                "Run on which instance?", [(n, n) for n in instances], reason_required=False))
            if picked is None:
                return
            instance = picked[0]
        inputs: dict[str, str] = {}
        for name in needed:
            value = await self.app.push_screen_wait(PromptScreen(f"Value for {name}", name))
            if value is None:
                return
            inputs[name] = value
        try:
            plan = await asyncio.to_thread(
                lambda: services.plan_step_action(store, loaded, hid, step_id, actor=actor,
                                                  instance=instance, inputs=inputs))
        except Exception as exc:
            self.notify(notice_text(str(exc)), severity="error", markup=False, timeout=10)
            return

        def run(p: services.ActionPlan) -> services.ActionOutcome:
            return services.run_planned(store, loaded, hid, p, actor=actor,
                                        dry_run=getattr(self.app, "dry_run_actions", False))

        await self.app.push_screen_wait(ActionScreen(plan, run))
        self.irc.poke()

    def action_postmortem(self) -> None:
        from ircon.tui.screens.postmortem import PostmortemScreen

        self.app.push_screen(PostmortemScreen(self.human_id))
