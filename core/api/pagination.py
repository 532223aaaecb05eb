"""Pages of the API's lists."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Pages of API_PAGE_SIZE items: ?page=2."""

    page_size = settings.API_PAGE_SIZE
