# The portal's image for docker-compose.yml: one image for web, worker and beat. Two stages, so that the
# image that runs holds the portal's packages (requirements.txt) and nothing else: no compiler, no header
# files and no test or lint tool (requirements-dev.txt never enters the build, see .dockerignore).

# --- builder: compilers, and a wheel for every pin of requirements.txt -------------------------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Most pins ship binary wheels, which are downloaded as they are; a package published only as source is
# compiled here (build-essential), never in the runtime image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt

# --- runtime: the wheels above, the code, the static files; run as an unprivileged user ----------------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# curl: docker-compose.yml's health check of web. Pango and Thai fonts: WeasyPrint's PDFs (minutes, report
# packs). The compiled translations (.mo) are committed, so no gettext tools are needed here.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl libpango-1.0-0 libpangoft2-1.0-0 fonts-thai-tlwg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
# --no-index: only the builder's wheels, so a pin missing from them fails the build instead of quietly
# pulling a source package that this stage could not compile. The wheels are mounted, not copied, so they
# leave no layer behind.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels -r requirements.txt
COPY . .
# collectstatic needs settings that import; the real SECRET_KEY comes from the environment at run time.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-build-key ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput -v0
# The code and static files stay root's (read-only to the portal); only uploads (the media volume) are its.
RUN groupadd --gid 1000 abe && useradd --create-home --uid 1000 --gid abe abe && mkdir -p /app/media && chown abe:abe /app/media
# Numeric, so an orchestrator that requires a non-root user (runAsNonRoot) can verify it.
USER 1000:1000
EXPOSE 8000
# gunicorn reads gunicorn.conf.py from /app (bind 0.0.0.0:8000, workers, the redacting logger).
CMD ["gunicorn", "abe_portal.wsgi"]
