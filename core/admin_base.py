"""Admin bases for rows whose state only the services change: shown, never edited by hand."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db import models
from django.http import HttpRequest


class ServiceStateAdmin(admin.ModelAdmin):
    """Show rows read-only; their state moves only through actions that call the services.

    An edit form would write every field back as it was read, over what a worker changed
    meanwhile, and skip the checks of the services. Actions name allowed_permissions
    ("operate",): whoever holds the model's change permission may run them.
    """

    # The form is built even for a page that only shows it; this keeps Django 5.2 from warning
    # that URL fields will assume https in 6.0.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Refuse: the services make these rows."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Refuse: the page shows the row; the actions change it."""
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Allow the actions to users with the model's change permission."""
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


def report(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    results: Iterable[bool],
    *,
    noun: str,
    did: str,
    why: str,
) -> None:
    """Tell the operator how many rows an action changed (its services said True) and why not."""
    outcomes = [bool(r) for r in results]
    changed = sum(outcomes)
    skipped = len(outcomes) - changed
    text = f"{changed} {noun}{'' if changed == 1 else 's'} {did}"
    text += f"; {skipped} skipped ({why})." if skipped else "."
    level = messages.SUCCESS if changed and not skipped else messages.WARNING
    model_admin.message_user(request, text, level)
