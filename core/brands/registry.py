"""Brands as data, and the registry the brand apps fill when Django starts."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Hosts that are never a brand's own domain but serve the brand chosen by LOCALHOST_BRAND.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@dataclass(frozen=True)
class Palette:
    """A brand's colours; each pair used for text meets WCAG AA (4.5:1), checked by the tests."""

    primary: str  # buttons, links and the progress bar, on `background`
    on_primary: str  # text on `primary`
    background: str
    surface: str  # cards and the drop zone, on `background`
    text: str  # body text on `background` and `surface`
    muted: str  # secondary text on `background` and `surface`
    accent: str  # the waveform and highlights (decorative: no text on it)


@dataclass(frozen=True)
class Seo:
    """What search engines and link previews show."""

    title: str
    description: str
    og_image: str  # a static path


@dataclass(frozen=True)
class Brand:
    """One branded site: what it is called, which stem it delivers, and how it looks and reads."""

    slug: str
    app_label: str  # the brand app, whose templates override the shared ones
    name: str
    stem: str  # a Job.Stem value: "accompaniment" or "vocals"
    stem_label: str  # used in file names and texts: "Instrumental", "Acapella"
    domain_setting: str  # the setting that holds the brand's domain, e.g. VOCALS_REMOVER_DOMAIN
    palette: Palette
    logo: str  # a static path to an SVG
    headline: str
    lead: str
    seo: Seo
    # Short paragraphs of the home page's "how it works" list.
    steps: tuple[str, ...] = ()
    # What the job page offers for the other stem, e.g. "Need the vocals instead?"
    other_stem_prompt: str = ""
    urlconf: str | None = None  # a brand may add pages of its own
    aliases: tuple[str, ...] = field(default=())

    @property
    def domain(self) -> str:
        """Return the brand's domain, read from settings each time so it can be overridden."""
        return str(getattr(settings, self.domain_setting)).lower()

    def hosts(self) -> set[str]:
        """Return every host name that serves this brand (its domain, www. and aliases)."""
        return {self.domain, f"www.{self.domain}", *(a.lower() for a in self.aliases)}

    def template_names(self, name: str) -> list[str]:
        """Return the brand's override of a shared template first, then the shared one."""
        return [f"{self.app_label}/{name}", name]


_brands: dict[str, Brand] = {}


def register(brand: Brand) -> None:
    """Add a brand; registering two brands with one slug is a configuration error."""
    existing = _brands.get(brand.slug)
    if existing is not None and existing != brand:
        raise ImproperlyConfigured(f"brand {brand.slug!r} is registered twice")
    _brands[brand.slug] = brand


def all_brands() -> list[Brand]:
    """Return the registered brands in registration order."""
    return list(_brands.values())


def get(slug: str) -> Brand | None:
    """Return the brand with this slug, if any."""
    return _brands.get(slug)


def for_host(host: str) -> Brand | None:
    """Return the brand a host name (without port) serves, or None: never a guess."""
    host = host.lower().rstrip(".")
    if host in LOCAL_HOSTS:
        return _brands.get(settings.LOCALHOST_BRAND)
    for brand in _brands.values():
        if host in brand.hosts():
            return brand
    return None


def other_brand(brand: Brand) -> Brand | None:
    """Return the brand that delivers the other stem, for "Need the vocals instead?"."""
    return next((b for b in _brands.values() if b.stem != brand.stem), None)
