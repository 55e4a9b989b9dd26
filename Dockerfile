# The Sensate image: the web app (`sensate serve`), the outbox worker (`sensate worker`)
# and one-shot commands (`sensate migrate`, `sensate reindex`) all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY directory ./directory
COPY matching ./matching
COPY importers ./importers

# Installed as root, run as an unprivileged user that owns only var/ (the embedded
# defaults' data directory; unused when PostgreSQL and Meilisearch are configured).
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin sensate \
    && mkdir -p /app/var \
    && chown sensate:sensate /app/var

USER sensate
ENV SENSATE_VAR_DIR=/app/var \
    SENSATE_HOST=0.0.0.0
EXPOSE 8000

# The slim image has no curl; Python's urllib is enough. urlopen raises on an HTTP error,
# so a failing /healthz makes the check fail.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["sensate", "serve", "--host", "0.0.0.0"]
