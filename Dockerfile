# syntax=docker/dockerfile:1
# ajo images. Targets:
#   runtime (default)  web, migrate, sync_chain, deploy/simulate: `docker build -t ajo .`
#   chain              a local anvil dev chain from the pinned npm package (compose dev profile)

# --- build: compilers and headers stay here; only the virtualenv leaves this stage ----------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install --upgrade pip && pip install -r /tmp/requirements.txt

# --- chain: anvil for development only (never part of a production deployment) -------------
FROM node:20-slim AS chain
WORKDIR /chain
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error && npm cache clean --force
USER node
EXPOSE 8545
# Chain id 31337 and the default mnemonic: the first account's first deployments always land
# at the same addresses, which the compose dev profile relies on.
CMD ["node_modules/.bin/anvil", "--host", "0.0.0.0", "--port", "8545"]

# --- runtime: the application image -----------------------------------------------------------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000
RUN groupadd --system --gid 10001 ajo \
    && useradd --system --uid 10001 --gid ajo --home-dir /app --shell /usr/sbin/nologin ajo
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root . /app
# Static files are collected into the image (WhiteNoise serves them). Settings refuse to load
# without SECRET_KEY, so this one command gets a throwaway key; it is not kept in the image.
RUN SECRET_KEY=collectstatic-only-not-a-secret DEBUG=false \
    python manage.py collectstatic --noinput -v0 \
    && python -m compileall -q /app/ajo /app/groups /app/contributions
USER ajo:ajo
EXPOSE 8000 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "ajo.wsgi"]
