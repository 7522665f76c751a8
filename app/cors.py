"""CORS for the storefront origins named in ``CORS_ORIGINS`` (flask-cors).

With no origin configured the service sends no CORS headers at all, and a
browser on another origin cannot call it.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS


def init_app(app: Flask) -> None:
    origins = app.config["CORS_ORIGINS"]
    if not origins:
        return
    CORS(
        app,
        resources={r"/api/*": {"origins": origins}},
        allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
        expose_headers=[
            "Location",
            "X-Request-ID",
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
        ],
        methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        max_age=600,
        supports_credentials=False,
    )
