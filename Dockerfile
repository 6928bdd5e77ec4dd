# warwatch image for the Airflow services and the one-shot setup job of docker-compose.yml.
# Installs this project with its Airflow extra into /opt/venv and runs as an unprivileged user.
FROM python:3.11-slim

# PYTHONPATH: dags/ and demo/ are not installed packages; import them from the project directory
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    WARWATCH_DATA_DIR=/opt/warwatch/data \
    PYTHONPATH=/opt/warwatch

ARG WARWATCH_UID=50000
# gid 0 like the official Airflow image, so an arbitrary uid (OpenShift) can still write its dirs
# Debian's chromium renders the article pages that need JavaScript (crawlers/render.py, a source's
# `render`); Playwright drives it and downloads no browser of its own.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --uid "${WARWATCH_UID}" --gid 0 --create-home --home-dir /home/warwatch --shell /bin/bash warwatch

WORKDIR /opt/warwatch

# Dependencies first (only the packaging files and the packages), so code edits to dags/ do not
# reinstall them. config/ is package data (indexing/defaults/config links to it) and demo/ a
# package: both are needed to build the wheel. psycopg2 is Airflow's driver for the Postgres
# metadata DB; the Celery provider (with redis) serves compose's `celery` profile and is idle
# under LocalExecutor.
COPY pyproject.toml README.md ./
COPY config ./config
COPY indexing ./indexing
COPY crawlers ./crawlers
COPY warwatch ./warwatch
COPY demo ./demo
RUN python -m venv /opt/venv \
    && pip install --upgrade pip \
    && pip install ".[airflow,production]" \
    && rm -rf build *.egg-info

# DAGs and the Scrapy project file
COPY scrapy.cfg ./
COPY dags ./dags

RUN mkdir -p /opt/airflow/logs /opt/warwatch/data \
    && chown -R warwatch:0 /opt/airflow /opt/warwatch/data \
    && chmod -R g+rwX /opt/airflow /opt/warwatch/data

USER warwatch
CMD ["warwatch", "--help"]
