"""Rich text from plugins, made safe for the member app: an allow-list of tags and attributes.

Anything else is dropped: scripts and styles with their content, event handlers, `javascript:` and
`data:` links, images (items carry one `image_url`), frames, forms. The app also forbids inline script
through its Content-Security-Policy; this is the first line, not the only one.
"""
from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "h2", "h3", "h4", "blockquote"}
VOID_TAGS = {"br"}
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "embed", "noscript", "svg", "math",
                     "select", "textarea", "title", "head"}
SAFE_SCHEMES = {"http", "https", "mailto"}


def safe_link(url: str | None, allow_relative: bool = True) -> str | None:
    """`url` when it is an http(s)/mailto link or (if allowed) a path on this site; otherwise None."""
    if not url:
        return None
    url = str(url).strip()
    if any(ord(ch) < 32 for ch in url) or "\\" in url:
        return None
    parts = urlsplit(url)
    if parts.scheme:
        return url if parts.scheme.lower() in SAFE_SCHEMES and (parts.netloc or parts.scheme == "mailto") else None
    if allow_relative and url.startswith("/") and not url.startswith("//"):
        return url
    return None


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag, attrs):
        if tag in DROP_WITH_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in ALLOWED_TAGS:
            return
        if tag == "a":
            href = safe_link(dict(attrs).get("href"))
            if href:
                self.out.append(f'<a href="{escape(href)}" rel="noopener noreferrer" target="_blank">')
            else:
                self.out.append("<a>")
        else:
            self.out.append(f"<{tag}>")
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in self.open and tag not in VOID_TAGS and self.open[-1] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in DROP_WITH_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in self.open:
            return
        while self.open:  # close what was left open inside it
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data):
        if not self.dropping:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def clean_html(html: str | None) -> str:
    """Allow-listed HTML from untrusted rich text."""
    if not html:
        return ""
    cleaner = _Cleaner()
    cleaner.feed(str(html))
    cleaner.close()
    return cleaner.result()


def plain_text(text: str | None, limit: int = 1000) -> str:
    """Text with every tag removed (for titles and summaries); the app shows it as text anyway."""
    if not text:
        return ""
    cleaner = _Cleaner()
    cleaner.feed(str(text))
    cleaner.close()
    # Tags are gone; only text (escaped) is left: unescape for plain use.
    from html import unescape

    stripped = unescape("".join(part for part in cleaner.out if not part.startswith("<")))
    return " ".join(stripped.split())[:limit]
