"""Vocals Remover: the brand that delivers the instrumental."""
