"""Realtime Inspector: record, browse, diff and replay OpenAI Realtime API WebSocket sessions."""

from __future__ import annotations

__version__ = "0.1.0"
