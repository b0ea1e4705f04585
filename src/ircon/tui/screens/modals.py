"""Dialogs: prompts with reasons, choices, alert detail, assignment, silences, actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from ircon.model.severity import SEVERITIES
from ircon.tui import safe
from ircon.tui.screens.base import IrconModal
from ircon.tui.timefmt import stamp
from ircon.tui.widgets.field import Field

if TYPE_CHECKING:
    from ircon.tui.services import ActionOutcome, ActionPlan, AlertDetail, BoardRow

NEW_INCIDENT = "__new__"


def _hint(text: str) -> Static:
    return Static(Text(text, style="dim"), classes="hint")


class PromptScreen(IrconModal[str]):
    """One line of text (a note, a reason, a name). Enter saves; esc cancels."""

    def __init__(self, title: str, placeholder: str = "", *, value: str = "",
                 required: bool = True, max_length: int = 4000) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.required = required
        self.max_length = max_length

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(safe.text(self.title_text, 200, style="bold"), classes="dialog-title")
            yield Field(value=self.value, placeholder=self.placeholder,
                        max_length=self.max_length, id="prompt")
            yield _hint("enter: save · esc: cancel")

    @on(Input.Submitted, "#prompt")
    def _submit(self, ev: Input.Submitted) -> None:
        text = ev.value.strip()
        if self.required and not text:
            self.notify("this needs some text (esc cancels)", severity="warning", markup=False)
            return
        self.dismiss(text)


class ChoiceScreen(IrconModal[tuple[str, str]]):
    """Pick one option, then give the reason (severity and status changes)."""

    def __init__(self, title: str, options: Sequence[tuple[str, str]], *, current: str = "",
                 reason_required: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.options = list(options)
        self.current = current
        self.reason_required = reason_required
        self.choice: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(safe.text(self.title_text, 200, style="bold"), classes="dialog-title")
            yield OptionList(
                *[Option(safe.text(label + ("  (current)" if v == self.current else ""), 80),
                         id=v) for v, label in self.options],
                id="choices",
            )
            yield Field(placeholder="reason (recorded in the journal)", id="reason",
                        max_length=2000)
            yield _hint("enter: choose · then type the reason · esc: cancel")

    def on_mount(self) -> None:
        ol = self.query_one("#choices", OptionList)
        ids = [v for v, _ in self.options]
        ol.highlighted = ids.index(self.current) if self.current in ids else 0
        ol.focus()

    @on(OptionList.OptionSelected, "#choices")
    def _chosen(self, ev: OptionList.OptionSelected) -> None:
        self.choice = ev.option.id
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _submit(self, ev: Input.Submitted) -> None:
        if self.choice is None:
            ol = self.query_one("#choices", OptionList)
            if ol.highlighted is None:
                return
            self.choice = ol.get_option_at_index(ol.highlighted).id
        reason = ev.value.strip()
        if self.reason_required and not reason:
            self.notify("give a reason: it goes in the journal", severity="warning",
                        markup=False)
            return
        assert self.choice is not None
        self.dismiss((self.choice, reason))


def severity_choices() -> list[tuple[str, str]]:
    labels = {"SEV1": "SEV1 — critical: active harm, wake people",
              "SEV2": "SEV2 — major: contained harm or serious risk",
              "SEV3": "SEV3 — minor: limited impact",
              "SEV4": "SEV4 — low: informational"}
    return [(s, labels.get(s, s)) for s in SEVERITIES]


def status_choices() -> list[tuple[str, str]]:
    from ircon.tui.services import STATUSES

    return [(s, s) for s in STATUSES]


class DeclareScreen(IrconModal[tuple[str, str]]):
    """Declare an incident: a title and a severity."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Declare an incident", style="bold"), classes="dialog-title")
            yield Field(placeholder="title: what is happening", id="title", max_length=300)
            yield OptionList(*[Option(label, id=v) for v, label in severity_choices()],
                             id="severity")
            yield _hint("type the title, enter, pick a severity, enter · esc: cancel")

    def on_mount(self) -> None:
        self.query_one("#severity", OptionList).highlighted = 2
        self.query_one("#title", Input).focus()

    @on(Input.Submitted, "#title")
    def _title(self, ev: Input.Submitted) -> None:
        if ev.value.strip():
            self.query_one("#severity", OptionList).focus()

    @on(OptionList.OptionSelected, "#severity")
    def _sev(self, ev: OptionList.OptionSelected) -> None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.notify("an incident needs a title", severity="warning", markup=False)
            self.query_one("#title", Input).focus()
            return
        self.dismiss((title, str(ev.option.id)))


class AlertDetailScreen(IrconModal[None]):
    """Everything about one alert, as plain text."""

    def __init__(self, alert_id: int) -> None:
        super().__init__()
        self.alert_id = alert_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(f"Alert {self.alert_id}", style="bold"), classes="dialog-title",
                         id="detail-title")
            with VerticalScroll(id="detail-scroll"):
                yield Static(Text("loading…", style="dim"), id="detail")
            yield _hint("esc: close")

    def on_mount(self) -> None:
        store, aid = self.irc.store, self.alert_id
        if store is None:
            return

        def load() -> AlertDetail:
            from ircon.tui import services

            return services.alert_detail(store, aid)

        self.io(load, self._show, group="load")

    def _show(self, d: AlertDetail) -> None:
        tz = self.irc.tz
        r = d.row
        out = Text(end="")

        def field(name: str, value: object, limit: int = 500) -> None:
            out.append(f"{name:<13}", style="bold")
            out.append_text(safe.text(value, limit))
            out.append("\n")

        field("name", r.name)
        field("summary", r.summary, 2000)
        field("severity", r.severity)
        field("status", f"{r.status} ({r.state})" + (", acknowledged" if r.acknowledged else ""))
        field("source", r.source)
        field("fingerprint", d.fingerprint)
        field("incident", r.incident or "-")
        field("count", r.count)
        field("first seen", stamp(r.first_seen, tz))
        field("last seen", stamp(r.last_seen, tz))
        if d.starts_at:
            field("starts at", stamp(d.starts_at, tz))
        if d.ends_at:
            field("ends at", stamp(d.ends_at, tz))
        if d.generator_url:
            field("link", d.generator_url)  # shown, never made clickable
        for title, items in (("labels", d.labels), ("annotations", d.annotations)):
            out.append(f"\n{title}\n", style="bold underline")
            if not items:
                out.append("  (none)\n", style="dim")
            for k, v in sorted(items.items())[:200]:
                out.append("  ")
                out.append_text(safe.text(k, 60, style="bold"))
                out.append(" = ")
                out.append_text(safe.text(v, 2000))
                out.append("\n")
        out.append("\nevidence (as the source sent it, excerpt)\n", style="bold underline")
        out.append_text(safe.block(d.evidence, 8000))
        self.query_one("#detail", Static).update(out)
        self.query_one("#detail-title", Static).update(
            Text.assemble(Text(f"Alert {r.id}: ", style="bold"), safe.text(r.name, 60))
        )


class AssignScreen(IrconModal[str]):
    """Pick the incident the alerts belong to, or declare a new one for them."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Assign {self.count} alert(s) to…", style="bold"),
                         classes="dialog-title")
            yield OptionList(Option(Text("+ a new incident for these alerts", style="bold"),
                                    id=NEW_INCIDENT), id="targets")
            yield _hint("enter: assign · esc: cancel")

    def on_mount(self) -> None:
        store = self.irc.store
        self.query_one("#targets", OptionList).focus()
        if store is None:
            return

        def load() -> list[BoardRow]:
            from ircon.tui import services

            return services.open_incidents(store, limit=50)

        self.io(load, self._show, group="load")

    def _show(self, rows: list[BoardRow]) -> None:
        ol = self.query_one("#targets", OptionList)
        for r in rows:
            label = Text.assemble(Text(f"{r.id}  {r.severity:<4}  ", style="bold"),
                                  safe.text(r.title, 60))
            ol.add_option(Option(label, id=r.id))

    @on(OptionList.OptionSelected, "#targets")
    def _chosen(self, ev: OptionList.OptionSelected) -> None:
        self.dismiss(str(ev.option.id))


class SilenceScreen(IrconModal[tuple[float, str]]):
    """How long to silence, and why (the comment the silence carries)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Silence {self.count} alert(s)", style="bold"),
                         classes="dialog-title")
            yield Field(value="2", placeholder="hours", id="hours", type="number")
            yield Field(placeholder="comment: why (required)", id="comment", max_length=500)
            yield _hint("enter: silence · esc: cancel")

    def on_mount(self) -> None:
        self.query_one("#comment", Input).focus()

    @on(Input.Submitted)
    def _submit(self, ev: Input.Submitted) -> None:
        try:
            hours = float(self.query_one("#hours", Input).value or "0")
        except ValueError:
            hours = 0
        comment = self.query_one("#comment", Input).value.strip()
        if not 0 < hours <= 24 * 14:
            self.notify("hours must be between 0 and 336", severity="warning", markup=False)
            return
        if not comment:
            self.query_one("#comment", Input).focus()
            self.notify("a silence needs a comment", severity="warning", markup=False)
            return
        self.dismiss((hours, comment))


class ActionScreen(IrconModal[bool]):
    """Containment: the preview of exactly what will be sent, confirmation, live result."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Run it", id="confirm"),
        Binding("n", "dismiss_none", "Cancel", id="cancel"),
        Binding("escape", "dismiss_none", "Close", id="close"),
    ]

    def __init__(self, plan: ActionPlan, run: Callable[[ActionPlan], ActionOutcome]) -> None:
        super().__init__()
        self.plan = plan
        self.run = run
        self.state = "preview"  # preview, running, done

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text.assemble(Text("Run: ", style="bold"),
                                       safe.text(self.plan.title, 100)), classes="dialog-title")
            yield RichLog(id="action-log", wrap=True, markup=False, max_lines=2000)
            yield Static(Text("y: run it · n/esc: cancel", style="bold"), id="action-hint",
                         classes="hint")

    def on_mount(self) -> None:
        log = self.query_one("#action-log", RichLog)
        log.write(Text("This will be sent exactly as shown:", style="bold"))
        for line in self.plan.lines[:500]:
            log.write(safe.text(line, 1000))

    def action_confirm(self) -> None:
        if self.state != "preview":
            return
        self.state = "running"
        log = self.query_one("#action-log", RichLog)
        log.write(Text("running…", style="bold"))
        self.query_one("#action-hint", Static).update(Text("running… (esc closes; it "
                                                           "keeps going)", style="dim"))
        plan, run = self.plan, self.run
        self.io(lambda: run(plan), self._done, group="run", failed=self._failed)

    def _done(self, outcome: ActionOutcome) -> None:
        self.state = "done"
        log = self.query_one("#action-log", RichLog)
        log.write(Text("succeeded" if outcome.ok else "FAILED",
                       style="bold green" if outcome.ok else "bold red"))
        for line in outcome.lines[:500]:
            log.write(safe.text(line, 1000))
        self.query_one("#action-hint", Static).update(Text("esc: close", style="dim"))

    def _failed(self, error: str) -> None:
        self.state = "done"
        self.query_one("#action-log", RichLog).write(
            Text.assemble(Text("FAILED: ", style="bold red"), safe.text(error, 1000))
        )
        self.query_one("#action-hint", Static).update(Text("esc: close", style="dim"))
