"""Pages shared by every brand."""

from __future__ import annotations

from django.urls import path

from core.web import previews, seo, transpose, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("robots.txt", seo.robots_txt, name="robots"),
    path("sitemap.xml", seo.sitemap_xml, name="sitemap"),
    path("jobs/<uuid:job_id>/", views.job_page, name="job"),
    path("jobs/<uuid:job_id>/status.json", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/peaks.json", views.job_peaks, name="job_peaks"),
    path(
        "jobs/<uuid:job_id>/audio/<str:which>.mp3",
        views.job_audio,
        name="job_audio",
    ),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job_download"),
    path("jobs/<uuid:job_id>/stream", views.job_stream, name="job_stream"),
    path("jobs/<uuid:job_id>/other-stem/", views.other_stem, name="other_stem"),
    path("jobs/<uuid:job_id>/whole/", previews.separate_whole, name="job_whole"),
    path("jobs/<uuid:job_id>/key-and-tempo/", transpose.transpose_page, name="job_transpose"),
    path(
        "jobs/<uuid:job_id>/key-and-tempo/preview.mp3",
        transpose.transpose_preview,
        name="job_transpose_preview",
    ),
    path(
        "jobs/<uuid:job_id>/key-and-tempo/download/",
        transpose.transpose_download,
        name="job_transpose_download",
    ),
    path("links/", views.link_submit, name="link_submit"),
    path("links/<uuid:link_id>/", views.link_page, name="link"),
    path("links/<uuid:link_id>/status.json", views.link_status, name="link_status"),
]
