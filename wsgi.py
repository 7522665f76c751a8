"""The WSGI entry point: ``gunicorn wsgi:app`` (and ``flask --app wsgi``)."""

from dotenv import load_dotenv

from app import create_app
from app.config import ConfigError

load_dotenv()
try:
    app = create_app()
except ConfigError as error:
    # One line that says what to set, not a traceback.
    raise SystemExit(f"configuration error: {error}") from None
