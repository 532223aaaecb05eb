"""Receivers of the jobs app's signals: queue the callbacks of API jobs that finished."""

from __future__ import annotations
