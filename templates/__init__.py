"""Companion notebooks and injected cell sources (shipped as imagesumming.templates)."""
