"""Printing a Slack conversation as a person would read it, for the offline demo."""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any, TextIO

__all__ = ["Transcript", "blocks_to_text"]

WIDTH = 96


def blocks_to_text(blocks: list[dict[str, Any]], fallback: str = "") -> list[str]:
    """Block Kit rendered as plain lines: sections, headers, fields, context and buttons."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(_text(block["text"]).upper())
        elif kind == "section":
            if "text" in block:
                lines.extend(_text(block["text"]).splitlines())
            for field in block.get("fields", []):
                lines.append("  " + _text(field).replace("\n", " "))
            if block.get("accessory", {}).get("type") == "button":
                lines.append(_button(block["accessory"]))
        elif kind == "context":
            lines.append("  " + " · ".join(_text(e) for e in block["elements"] if "text" in e))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "actions":
            lines.append(" ".join(_button(e) for e in block["elements"] if e["type"] == "button"))
    if not lines and fallback:
        lines.extend(html.unescape(fallback).splitlines())
    return lines


def _text(obj: dict[str, Any]) -> str:
    return html.unescape(str(obj.get("text", "")))


def _button(element: dict[str, Any]) -> str:
    return f"[ {_text(element['text'])} ]"


class Transcript:
    """Writes who said what, where, indenting the bot's messages under a speaker line."""

    def __init__(self, out: TextIO, *, people: dict[str, str] | None = None) -> None:
        self._out = out
        self._people = people or {}

    def _names(self, line: str) -> str:
        # Slack shows <@U123> as the person's name and <#C123> as the channel's.
        line = re.sub(r"<@(\w+)>", lambda m: "@" + self._people.get(m[1], m[1]), line)
        return re.sub(r"<#(\w+)>", lambda m: "#" + self._people.get(m[1], m[1]), line)

    def scene(self, title: str) -> None:
        self._out.write(f"\n=== {title} ===\n\n")

    def person(self, name: str, channel: str, text: str) -> None:
        self._out.write(f"{channel}  @{name}: {text}\n")

    def bot(
        self, channel: str, message: dict[str, Any], *, only_visible_to: str | None = None
    ) -> None:
        """A message from chaosbot (a Web API call body or a slash-command response)."""
        who = f"chaosbot (only visible to @{only_visible_to})" if only_visible_to else "chaosbot"
        self._out.write(f"{channel}  {who}:\n")
        for line in blocks_to_text(message.get("blocks") or [], message.get("text", "")):
            line = self._names(line)
            for wrapped in textwrap.wrap(line, WIDTH - 4) or [""]:
                self._out.write(f"    {wrapped}\n")
        self._out.write("\n")

    def modal(self, who: str, view: dict[str, Any]) -> None:
        """A modal as the person sees it: its title and the fields it asks for."""
        title = view.get("title", {}).get("text", "")
        self._out.write(f"  [form opens for @{who}: {title}]\n")
        labels = [b["label"]["text"] for b in view.get("blocks", []) if b.get("type") == "input"]
        for line in textwrap.wrap(", ".join(labels), WIDTH - 6):
            self._out.write(f"      {line}\n")

    def field_errors(self, errors: dict[str, str]) -> None:
        self._out.write("  [the form refuses:]\n")
        for block, message in errors.items():
            self._out.write(f"      {block}: {message}\n")

    def note(self, text: str) -> None:
        self._out.write(f"  ({self._names(text)})\n")

    def thread(self, channel: str, lines: list[str]) -> None:
        """The replies in a message's thread, one per line."""
        self._out.write(f"{channel}  thread:\n")
        for line in lines:
            for wrapped in textwrap.wrap(self._names(line.replace("\n", " ")), WIDTH - 6):
                self._out.write(f"      {wrapped}\n")
        self._out.write("\n")
