"""The Vocals Remover brand: it delivers the instrumental (the accompaniment stem)."""

from __future__ import annotations

from core.brands.registry import Brand, Palette, Seo

BRAND = Brand(
    slug="vocals-remover",
    app_label="vocals_remover",
    name="Vocals Remover",
    stem="accompaniment",
    stem_label="Instrumental",
    domain_setting="VOCALS_REMOVER_DOMAIN",
    palette=Palette(
        primary="#3730a3",
        on_primary="#ffffff",
        background="#f6f7fb",
        surface="#ffffff",
        text="#1b1f2a",
        muted="#4a5163",
        accent="#6366f1",
    ),
    logo="vocals_remover/logo.svg",
    headline="Remove the vocals from any song",
    lead=(
        "Drop a song and get its instrumental in studio quality, ready for karaoke, "
        "covers and remixes. Free, no sign-up."
    ),
    steps=(
        "Drop an MP3, WAV, FLAC, M4A, OGG or a video file.",
        "Our Spleeter engine separates the voice from the music.",
        "Listen, compare with the original, and download the instrumental as MP3 320 kbps.",
    ),
    other_stem_prompt="Need the vocals instead?",
    seo=Seo(
        title="Vocals Remover: make an instrumental of any song, free",
        description=(
            "Remove vocals from a song online in a minute: upload MP3, WAV, FLAC or video and "
            "download a clean instrumental as MP3 320 kbps. Free, no sign-up."
        ),
        og_image="vocals_remover/og.png",
    ),
)
