# The customer service, served by gunicorn (settings in gunicorn.conf.py; see
# docs/operations.md). Migrations are NOT run on start: run them first, as an
# explicit step, with the same image:
#
#   docker run --rm --env-file prod.env IMAGE flask --app wsgi db upgrade
#   docker run -d --env-file prod.env -p 3000:3000 IMAGE
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    PORT=3000

WORKDIR /app

# Dependencies as pyproject.toml declares them (psycopg's binary wheel carries
# libpq, so the slim image needs no system packages).
COPY pyproject.toml README.md ./
COPY app ./app
COPY plugins ./plugins
RUN pip install .

# What runs from the working directory: the WSGI entry point, gunicorn's
# settings and the migrations (found beside the app package).
COPY wsgi.py gunicorn.conf.py ./
COPY migrations ./migrations

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent app
USER app

EXPOSE 3000

# Liveness only: /readyz (database and migrations) is for the load balancer.
# The slim image has no curl; python's urllib fails on anything but a 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"

CMD ["gunicorn", "wsgi:app"]
