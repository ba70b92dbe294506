"""Followed feeds: RSS and Atom feeds polled on a schedule into articles.

fetch (safe HTTP) -> parse (feedparser) -> entries -> pages (trafilatura, summary fallback)
-> the shared ingest path -> near-duplicate links.  The HTTP API and the CLI call ``manage``
and ``poll``; ``serve`` runs ``scheduler``.
"""
