# Production image for the OMS web app, Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=oms.settings.base

WORKDIR /app

# Non-root runtime user.
RUN groupadd --system app && useradd --system --gid app --home-dir /app --no-create-home app

# Dependencies first, for layer caching (psycopg2-binary ships its own libpq).
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Collect static files at build time (WhiteNoise serves them). The settings
# refuse to start without a strong SECRET_KEY when DEBUG is off, so make a random
# one that exists only for this build step.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        DEBUG=false python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown -R app:app /app/var

USER app

EXPOSE 8000

CMD ["gunicorn", "oms.wsgi:application", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "3"]
