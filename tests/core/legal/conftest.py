"""Clients for each brand's host, as the web tests have them."""

from __future__ import annotations

from tests.core.web.conftest import ae, vr

__all__ = ["ae", "vr"]
