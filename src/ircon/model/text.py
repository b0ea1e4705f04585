"""Making attacker-controlled text safe to show.

Everything that reaches a terminal from the outside world (prompts, alert
labels, command output) goes through ``visible``: control characters, bidi
overrides, zero-width and tag characters become readable escapes, so no
escape sequence, OSC 8 link, title change or right-to-left trick survives.
"""

from __future__ import annotations

import unicodedata

_C0_NAMES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\e"}


def _escape(cp: int) -> str:
    if cp in _C0_NAMES:
        return _C0_NAMES[cp]
    if cp < 0x100:
        return f"\\x{cp:02x}"
    return f"<U+{cp:04X}>"


def _is_unsafe(cp: int) -> bool:
    if cp < 0x20 or 0x7F <= cp < 0xA0:
        return True
    if 0x200B <= cp <= 0x200F or 0x202A <= cp <= 0x202E or 0x2060 <= cp <= 0x206F:
        return True  # zero-width, bidi embeddings/overrides/isolates, invisible operators
    if cp in (0x00AD, 0x061C, 0x115F, 0x1160, 0x180E, 0x3164, 0xFEFF, 0xFFA0):
        return True
    if 0xE0000 <= cp <= 0xE007F:
        return True  # tag characters (ASCII smuggling)
    if 0xD800 <= cp <= 0xDFFF:
        return True  # lone surrogates
    if 0xFFF9 <= cp <= 0xFFFB:
        return True
    cat = unicodedata.category(chr(cp))
    return cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def visible(s: str, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """``s`` with every unsafe character replaced by a visible escape.

    ``limit`` bounds the output length (an ellipsis marks the cut), so a 1 MB
    label costs the screen no more than a short one.
    """
    if limit is not None and len(s) > limit * 4:
        s = s[: limit * 4]  # escapes expand at most ~8x; cut early to bound the work
    out: list[str] = []
    n = 0
    for ch in s:
        cp = ord(ch)
        if (keep_newlines and ch == "\n") or (cp < 0x7F and cp >= 0x20):
            piece = ch
        elif _is_unsafe(cp):
            piece = _escape(cp)
        else:
            piece = ch
        out.append(piece)
        n += len(piece)
        if limit is not None and n > limit:
            return "".join(out)[: max(limit - 1, 0)] + "…"
    return "".join(out)


def one_line(s: str, limit: int = 200) -> str:
    """A single, bounded, safe line (newlines shown as \\n)."""
    return visible(s, limit)


# Chat services turn "<!channel>", "<@U123>" and "<url|label>" (Slack, Mattermost)
# and "@everyone" / "@here" / "@channel" (Discord, Mattermost, Teams) into pings and
# disguised links, even in plain-text messages.
_MENTION_TABLE = str.maketrans({"<": "\u2039", ">": "\u203a", "@": "\uff20"})


def no_mentions(s: str) -> str:
    """``s`` with ``<``, ``>`` and ``@`` as look-alikes (‹ › ＠), so that attacker
    text sent to a chat service reads the same but can neither ping nor link."""
    return s.translate(_MENTION_TABLE)
