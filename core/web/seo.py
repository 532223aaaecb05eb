"""What search engines read: robots.txt, sitemap.xml and the JSON-LD of the home and pricing pages.

Every address names the brand's own host (core.brands.links.brand_url), whichever of its names
was asked. Other apps add their public pages to the sitemap through `register_pages` (the bot:
its song pages), so core never imports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from core.billing import catalog
from core.brands.links import brand_url
from core.brands.registry import Brand


@dataclass(frozen=True)
class Page:
    """One address of the sitemap: a path on the brand's host, and when it last changed."""

    path: str
    lastmod: datetime | None = None


PageSource = Callable[[Brand], list[Page]]
_sources: list[PageSource] = []

# The shared pages every brand has, by URL name.
STATIC_PAGES = (
    "web:home",
    "billing:pricing",
    "legal:terms",
    "legal:privacy",
    "legal:copyright",
    "legal:contact",
)
# Pages with JSON-LD (the product and its offers).
_STRUCTURED = {"web:home", "billing:pricing"}


def register_pages(source: PageSource) -> None:
    """Let an app list its public pages of a brand in that brand's sitemap."""
    if source not in _sources:
        _sources.append(source)


def _brand(request: HttpRequest) -> Brand:
    brand: Brand | None = getattr(request, "brand", None)
    if brand is None:
        raise Http404("no brand")
    return brand


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Let crawlers read the public pages; name this brand's sitemap."""
    brand = _brand(request)
    lines = [
        "User-agent: *",
        # Job pages are not disallowed: a crawler must read them to see their noindex.
        "Disallow: /account/",
        "Disallow: /admin/",
        "Disallow: /api/",
        "Disallow: /links/",
        "Allow: /",
        "",
        f"Sitemap: {brand_url(request, brand, reverse('web:sitemap'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


def pages(brand: Brand) -> list[Page]:
    """Return every page of a brand's sitemap: the shared pages, then the apps' pages."""
    found = [Page(reverse(name)) for name in STATIC_PAGES]
    for source in _sources:
        found += source(brand)
    return found


@require_safe
def sitemap_xml(request: HttpRequest) -> HttpResponse:
    """List this brand's public pages with absolute addresses on its own host."""
    brand = _brand(request)
    rows = ['<?xml version="1.0" encoding="UTF-8"?>']
    rows.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    for page in pages(brand):
        loc = _xml(brand_url(request, brand, page.path))
        lastmod = f"<lastmod>{page.lastmod.date().isoformat()}</lastmod>" if page.lastmod else ""
        rows.append(f"  <url><loc>{loc}</loc>{lastmod}</url>")
    rows.append("</urlset>")
    return HttpResponse("\n".join(rows) + "\n", content_type="application/xml; charset=utf-8")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _price(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole}.{rest:02d}"


def web_application(request: HttpRequest, brand: Brand) -> dict[str, Any]:
    """Return the schema.org WebApplication of a brand, with the offers of the pricing page."""
    pricing = brand_url(request, brand, reverse("billing:pricing"))
    currency = catalog.packs()[0].currency.upper() if catalog.packs() else "EUR"
    offers: list[dict[str, Any]] = [
        {
            "@type": "Offer",
            "name": "Free",
            "price": "0.00",
            "priceCurrency": currency,
            "url": pricing,
        }
    ]
    for pack in catalog.packs():
        offers.append(
            {
                "@type": "Offer",
                "name": pack.name,
                "price": _price(pack.price),
                "priceCurrency": pack.currency.upper(),
                "url": pricing,
            }
        )
    monthly = catalog.monthly_plan()
    if monthly is not None:
        offers.append(
            {
                "@type": "Offer",
                "name": f"{monthly.credits} credits every month",
                "price": _price(monthly.price),
                "priceCurrency": monthly.currency.upper(),
                "url": pricing,
                "priceSpecification": {
                    "@type": "UnitPriceSpecification",
                    "price": _price(monthly.price),
                    "priceCurrency": monthly.currency.upper(),
                    "billingDuration": "P1M",
                },
            }
        )
    return {
        "@context": "https://schema.org",
        "@type": "WebApplication",
        "name": brand.name,
        "url": brand_url(request, brand, "/"),
        "description": brand.seo.description,
        "image": brand_url(request, brand, static(brand.seo.og_image)),
        "applicationCategory": "MultimediaApplication",
        "operatingSystem": "Any (in the browser)",
        "offers": offers,
    }


def json_ld(data: dict[str, Any]) -> SafeString:
    """Return JSON for a <script type="application/ld+json">, unable to close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    escaped = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return mark_safe(escaped)  # noqa: S308 - every <, > and & is escaped above


def structured_data(request: HttpRequest) -> dict[str, object]:
    """Context processor: the JSON-LD of the pages that present the product."""
    brand = getattr(request, "brand", None)
    match = getattr(request, "resolver_match", None)
    if brand is None or match is None or match.view_name not in _STRUCTURED:
        return {}
    return {"structured_data": json_ld(web_application(request, brand))}
