"""The Acapella Extractor brand: it delivers the vocals stem."""

from __future__ import annotations

from core.brands.registry import Brand, Palette, Seo

BRAND = Brand(
    slug="acapella-extractor",
    app_label="acapella_extractor",
    name="Acapella Extractor",
    stem="vocals",
    stem_label="Acapella",
    domain_setting="ACAPELLA_EXTRACTOR_DOMAIN",
    palette=Palette(
        primary="#9f1239",
        on_primary="#ffffff",
        background="#fdf7f5",
        surface="#ffffff",
        text="#2b1a1f",
        muted="#5c4650",
        accent="#f43f5e",
    ),
    logo="acapella_extractor/logo.svg",
    headline="Extract the acapella from any song",
    lead=(
        "Drop a song and get its isolated vocals, ready for remixes, mash-ups, samples "
        "and practice. Free, no sign-up."
    ),
    steps=(
        "Drop an MP3, WAV, FLAC, M4A, OGG or a video file.",
        "Our Spleeter engine separates the voice from the music.",
        "Listen, compare with the original, and download the acapella as MP3 320 kbps.",
    ),
    other_stem_prompt="Need the instrumental instead?",
    seo=Seo(
        title="Acapella Extractor: isolate the vocals of any song, free",
        description=(
            "Extract the vocals from a song online in a minute: upload MP3, WAV, FLAC or video "
            "and download a clean acapella as MP3 320 kbps. Free, no sign-up."
        ),
        og_image="acapella_extractor/og.png",
    ),
)
