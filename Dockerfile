# The customer service, served by gunicorn (settings in gunicorn.conf.py; see
# docs/operations.md). Migrations are NOT run on start: run them first, as an
# explicit step, with the same image:
#
#   docker run --rm --env-file prod.env IMAGE flask --app wsgi db upgrade
#   docker run -d --env-file prod.env -p 3000:3000 IMAGE
# The base image pinned by digest (python:3.11-slim): a build today and a build
# next month start from the same bytes. To move to a newer one, resolve the tag
# again (docker pull python:3.11-slim, then docker inspect --format
# '{{index .RepoDigests 0}}' python:3.11-slim) and put its digest here.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    PORT=3000

WORKDIR /app

# Dependencies first, from the lock file with their hashes checked: this layer
# is rebuilt only when the lock changes, not at every change of the code.
# psycopg's binary wheel carries libpq, and the Redis client is a dependency,
# so the slim image needs no system packages.
COPY requirements/service.lock ./requirements/service.lock
RUN pip install --require-hashes -r requirements/service.lock

# Then the service itself, without resolving anything again.
COPY pyproject.toml README.md ./
COPY app ./app
COPY plugins ./plugins
RUN pip install --no-deps .

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
