"""The visitor-facing pages of the branded sites: upload, job progress, result, downloads."""
