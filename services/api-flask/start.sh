#!/usr/bin/env bash
# Start the flask blog API under gunicorn; HOST, PORT, WEB_WORKERS, WEB_THREADS, PRELOAD_MODELS and the rest
# are read from the environment by the shared config, blogcore.gunicorn_conf.
set -euo pipefail
cd "$(dirname "$0")"
# Each API has its own default port and database, so all three can run side by side.
export PORT="${PORT:-8001}" DATABASE_PATH="${DATABASE_PATH:-data/flask.sqlite3}"
# Tables and WAL mode are set up once here, before any worker starts, so workers never race to do it.
python -m blogcore.posts
exec gunicorn -c python:blogcore.gunicorn_conf -k gthread blog_flask.wsgi:app
