"""Post-mortem drafts: the journal's facts laid out by a Jinja2 template.

Templates are trusted (the default ships in the package; a team may point to
its own), the values are not: alert names, prompts and notes are
attacker-written. Every value a template prints goes through ``finalize``,
which escapes it for Markdown (or HTML, for ``.html`` templates) unless the
template deliberately marks it safe; attacker text is only ever data in the
context, never template source, and the environment is sandboxed so even a
hostile team template cannot reach Python internals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    FunctionLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from ircon.model.journal import ChainEntry
from ircon.model.text import visible
from ircon.report.facts import Postmortem, derive, duration_text
from ircon.report.markdown import md_block, md_code, md_text

DEFAULT_TEMPLATE = "postmortem.md.j2"
MAX_TEMPLATE_BYTES = 1_000_000
VALUE_LIMIT = 500  # characters of one printed value; a 1 MB prompt costs a line


class TemplateProblem(ValueError):
    """A template that cannot be read or rendered, named with its file and line."""


def _default_source(name: str) -> str | None:
    path = resources.files("ircon.report").joinpath("templates", name)
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _trusted(text: str) -> Markup:
    """Mark text this module escaped or generated itself as final output."""
    return Markup(text)  # noqa: S704 - callers pass only escaped or self-made text


def _format_plain(value: Any) -> str | None:
    """Our own typed values, which carry no attacker text; None for anything else."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, int | float):
        return str(value)
    return None


def _md_finalize(value: Any) -> str:
    if isinstance(value, Markup):
        return str(value)
    plain = _format_plain(value)
    if plain is not None:
        return plain
    return md_text(str(value), VALUE_LIMIT)


def _html_finalize(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    plain = _format_plain(value)
    if plain is not None:
        return escape(plain)
    return escape(visible(str(value), VALUE_LIMIT))


def _filters(html: bool) -> dict[str, Callable[..., Any]]:
    def utc(value: Any) -> Markup:
        if not isinstance(value, datetime):
            return _trusted("unknown")
        return _trusted(f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}")

    def duration(value: Any) -> Markup:
        return _trusted(duration_text(value if isinstance(value, timedelta) else None))

    def codeblock(value: Any, lang: str = "text") -> Markup:
        text = str(value)[:4000]
        if html:
            return _trusted("<pre>") + escape(visible(text, None, keep_newlines=True)) + _trusted(
                "</pre>")
        return _trusted(md_block(text, "".join(c for c in lang if c.isalnum())[:20]))

    def text(value: Any, limit: int = VALUE_LIMIT) -> Markup:
        """Escaped text with its own length limit."""
        if html:
            return escape(visible(str(value), int(limit)))
        return _trusted(md_text(str(value), int(limit)))

    def code(value: Any, limit: int = VALUE_LIMIT) -> Markup:
        """An inline code span (outside tables: GFM splits cells on '|' even in code)."""
        if html:
            return _trusted("<code>") + escape(visible(str(value), int(limit))) + _trusted(
                "</code>")
        return _trusted(md_code(str(value), int(limit)))

    def short(value: Any, n: int = 12) -> Markup:
        """The start of a hash: hex digits only, so nothing to escape."""
        s = "".join(c for c in str(value) if c in "0123456789abcdef")
        return _trusted(s[: int(n)])

    def to_json(value: Any) -> Any:
        """Compact JSON as plain text, so the environment still escapes it."""
        try:
            out = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):
            out = str(value)
        return escape(out) if html else out

    return {"utc": utc, "duration": duration, "codeblock": codeblock, "text": text,
            "short": short, "code": code, "tojson": to_json, "json": to_json}


def environment(template_dir: Path | None = None, *, html: bool = False) -> SandboxedEnvironment:
    """The sandboxed environment post-mortem templates run in."""
    loaders: list[Any] = []
    if template_dir is not None:
        loaders.append(FileSystemLoader(str(template_dir)))
    loaders.append(FunctionLoader(_default_source))  # so team templates can extend ours
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=html,
        finalize=_html_finalize if html else _md_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(_filters(html))
    return env


def render(
    pm: Postmortem,
    template: str | Path | None = None,
    *,
    generated_at: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The draft for ``pm`` with the default template or the one at ``template``."""
    path = Path(template) if template is not None else None
    html = bool(path and path.name.lower().endswith((".html", ".html.j2", ".htm", ".htm.j2")))
    env = environment(path.parent if path else None, html=html)
    where = str(path) if path else DEFAULT_TEMPLATE
    try:
        if path is None:
            tpl = env.get_template(DEFAULT_TEMPLATE)
        else:
            try:
                if path.stat().st_size > MAX_TEMPLATE_BYTES:
                    raise TemplateProblem(
                        f"{path}: template is larger than {MAX_TEMPLATE_BYTES} bytes")
                source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateProblem(f"{path}: cannot read the template ({exc})") from exc
            tpl = env.from_string(source)
            tpl.name = str(path)
        ctx = {
            "pm": pm,
            "generated_at": generated_at or datetime.now(UTC),
            **(extra or {}),
        }
        return tpl.render(ctx)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(
            f"{exc.filename or where}:{exc.lineno}: template syntax error: {exc.message}; "
            "fix the template or omit --template to use the default") from exc
    except TemplateError as exc:
        # Undefined names, sandbox refusals: name the file and, when Jinja knows it, the line.
        line = _template_line(exc)
        raise TemplateProblem(
            f"{where}{f':{line}' if line else ''}: template error: {exc}; "
            "see `ircon postmortem --help` for the names a template can use") from exc


def _template_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith((".j2", "<template>")) or (
                tb.tb_frame.f_globals.get("__jinja_template__") is not None):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def draft(
    incident: Mapping[str, Any],
    entries: Iterable[ChainEntry],
    *,
    template: str | Path | None = None,
    generated_at: datetime | None = None,
) -> str:
    """Facts from the journal, then the template: the whole post-mortem draft.

    Clocks still running are judged as of ``generated_at`` (default: now).
    """
    at = generated_at or datetime.now(UTC)
    return render(derive(incident, entries, now=at), template, generated_at=at)


def draft_markdown(
    store: Any,
    incident: str,
    *,
    template: str | Path | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The draft for an incident in ``store`` (entries are streamed, not loaded at once)."""
    from ircon.store import incidents, journal

    inc = incidents.get(store, incident)
    return draft(inc, journal.iter_entries(store, incident), template=template,
                 generated_at=generated_at)
