"""Rich text of news posts: an allow-list sanitiser (nh3) and a check that refuses harmful markup.

Unsupported but harmless formatting (spans, styles, tables pasted from a word processor) is dropped
silently on save. Markup that can only mean an attack or a mistake a reader would pay for — script,
style and embedding elements, event-handler attributes, `javascript:`/`data:`/`vbscript:` URLs — is
refused with a clear error instead, so an author knows their text was not stored as written.
The stored body is always the sanitised one, whatever the check says.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h3", "h4", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped with their content (not just the tags).
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "embed", "noscript", "svg", "math",
                     "textarea", "select", "title"}
HARMFUL_TAGS = {"script", "style", "iframe", "object", "embed", "frame", "frameset", "applet", "base", "meta",
                "link", "form", "svg", "math", "template"}
HARMFUL_SCHEMES = ("javascript:", "vbscript:", "data:")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "srcset", "data"}
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def clean_html(value: str | None) -> str:
    """The allow-listed HTML of `value`: p, br, strong, em, lists, h3/h4, blockquote, and links
    with an http(s) or mailto address (others lose their href)."""
    if not value:
        return ""
    return nh3.clean(str(value), tags=ALLOWED_TAGS, clean_content_tags=DROP_WITH_CONTENT,
                     attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES, url_relative="deny",
                     link_rel="noopener noreferrer", strip_comments=True).strip()


class _HarmFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in HARMFUL_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}=")
            elif name in URL_ATTRIBUTES and value:
                # Browsers ignore whitespace and control characters inside a scheme ("java\tscript:").
                compact = _INVISIBLE.sub("", value).lower()
                if compact.startswith(HARMFUL_SCHEMES):
                    self.found.append(compact.split(":", 1)[0] + ":")

    handle_startendtag = handle_starttag


def harmful_markup(value: str | None) -> list[str]:
    """What in `value` is refused (e.g. `["<script>", "onerror=", "javascript:"]`), empty when it is fine."""
    if not value:
        return []
    finder = _HarmFinder()
    finder.feed(str(value))
    finder.close()
    return list(dict.fromkeys(finder.found))


def plain_text(value: str | None, limit: int | None = None) -> str:
    """The text of sanitised HTML, for summaries and push messages (no markup, collapsed spaces)."""
    text = nh3.clean(re.sub(r"<(br|/p|/li|/h3|/h4|/blockquote)\b[^>]*>", " ", value or "", flags=re.I), tags=set())
    text = " ".join(html.unescape(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
