"""App-wide messages."""

from __future__ import annotations

from textual.message import Message

__all__ = ["DatabaseChanged"]


class DatabaseChanged(Message):
    """Another connection committed (a tap is recording): live views re-read what they show."""
