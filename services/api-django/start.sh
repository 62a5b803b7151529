#!/usr/bin/env bash
# Start the django blog API under gunicorn; HOST, PORT, WEB_WORKERS, WEB_THREADS, PRELOAD_MODELS and the rest
# are read from the environment by the shared config, blogcore.gunicorn_conf.
set -euo pipefail
cd "$(dirname "$0")"
# Each API has its own default port and database, so all three can run side by side.
export PORT="${PORT:-8003}" DATABASE_PATH="${DATABASE_PATH:-data/django.sqlite3}"
mkdir -p "$(dirname "$DATABASE_PATH")"
# Migrations run once here, before any worker starts, so workers never race to create tables.
python manage.py migrate --noinput
exec gunicorn -c python:blogcore.gunicorn_conf -k gthread blog_django.wsgi:application
