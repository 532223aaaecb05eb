"""HTTP pieces the sites (core.web) and the API (core.api) share: stored files, rate limits."""
