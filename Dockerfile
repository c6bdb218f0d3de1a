# The portal's image for docker-compose.yml: one image for web, worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl gettext libpango-1.0-0 libpangoft2-1.0-0 fonts-thai-tlwg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic needs settings that import; the real SECRET_KEY comes from the environment at run time.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-build-key ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput -v0
RUN useradd --create-home --uid 1000 abe && mkdir -p /app/media && chown abe /app/media
USER abe
EXPOSE 8000
CMD ["gunicorn", "abe_portal.wsgi"]
