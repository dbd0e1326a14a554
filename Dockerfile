# syntax=docker/dockerfile:1
# Production image: build wheels in one stage, run as a non-root user in a slim one.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY integrations ./integrations
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEFEITONG_ENV=production HEFEITONG_VAR_DIR=/var/lib/hefeitong
RUN groupadd --system hefeitong && useradd --system --gid hefeitong --home /app hefeitong \
    && mkdir -p /var/lib/hefeitong /run/secrets/hefeitong-keys \
    && chown hefeitong:hefeitong /var/lib/hefeitong /run/secrets/hefeitong-keys
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
USER hefeitong
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Migrations run as a separate step (`hefeitong migrate`, see docker-compose.yml), then uvicorn
# serves with the production settings taken from HEFEITONG_* variables. uvicorn's own
# X-Forwarded-For handling stays off (it believes 127.0.0.1 by default): the app believes the
# proxies named in HEFEITONG_TRUSTED_PROXIES and no one else.
CMD ["uvicorn", "backend.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "2", "--no-proxy-headers", "--no-access-log"]
