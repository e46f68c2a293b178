# syntax=docker/dockerfile:1
# Cohesion API image. Build: docker build -t cohesion .   Run: see docker-compose.yml (needs PostgreSQL and
# ENCRYPTION_KEY), or without DATABASE_URL on the embedded database in /app/data (mount a volume there).

# Node 20 is the minimum the package supports (engines). Two runtime dependencies (content-disposition, cookie,
# pulled in by @fastify/static and light-my-request) declare node >= 22; they run on 20, but
# `--build-arg NODE_VERSION=22` builds on 22 instead.
ARG NODE_VERSION=20

# ---- build: compile TypeScript with the full (dev) dependency tree ----------------------------------------
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
# Lockfile first, so the dependency layer is reused while only the source changes. --ignore-scripts: the
# "prepare" script would run tsc before src/ is copied; no dependency needs an install script to compile.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled code and migrations only --------------------------------
FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app
# --ignore-scripts: "prepare" runs tsc, which --omit=dev leaves out (no production dependency has install scripts).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /app/data && chown node:node /app/data
# Code stays owned by root (read-only to the process); only DATA_DIR is writable, for the embedded database.
COPY --from=build /app/dist ./dist
COPY migrations ./migrations

USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 and handles SIGTERM itself (close-with-grace drains in-flight requests for SHUTDOWN_GRACE_MS).
CMD ["node", "dist/server.js"]
