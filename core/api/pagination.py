"""Pages of the API's lists."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pagination(PageNumberPagination):
    """Pages of API_PAGE_SIZE items: ?page=2."""

    page_size = 20

    def get_page_size(self, request: Request) -> int:
        """Return the page size setting, read per request."""
        return int(settings.API_PAGE_SIZE)
