"""Health: is this web process able to serve (database, Redis, storage)?"""
