"""Acapella Extractor: the brand that delivers the vocals."""
