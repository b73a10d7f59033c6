# logflow: spool-directory access logs -> sliding-window URL counts -> SQLite -> HTTP.
# Node 24 (LTS): better-sqlite3 12 supports it; the same steps as .ci/run (npm ci, build).
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# `prepare` runs this; with no sources here yet it only says so (the build is below).
COPY scripts/ensure-build.mjs scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY daemon daemon
COPY scripts scripts
COPY test test
# What only the build needs stays here: the compiled tests and scripts, and better-sqlite3's
# C sources and build leftovers (~12 MB of obj files when no prebuilt binary could be
# fetched); the runtime keeps the binding itself (build/Release/better_sqlite3.node).
RUN npm run build && npm prune --omit=dev \
 && rm -rf dist/test dist/scripts \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node . && rm -rf build deps src \
 && mkdir -p build/Release && mv better_sqlite3.node build/Release/

FROM node:24-bookworm-slim
# LOGFLOW_CONTAINER: start-up errors about files the container's user may not write name
# LOGFLOW_UID and compose's commands (daemon/permission-hint.ts).
ENV NODE_ENV=production LOGFLOW_CONTAINER=docker
# glibc's allocator: large arrays given back when freed, fewer arenas (daemon/malloc-settings.ts;
# docs/operations.md, "Memory"): at a million URLs, ~100 MB less resident.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=262144
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# The defaults; compose mounts the project's ./conf over them (read-only), so an edit
# reaches the container at its next start, without a rebuild.
COPY conf conf
# The dashboard's page, script and style (uPlot comes from node_modules).
COPY web web
# A named volume starts as a copy of the image's directory, owner and mode included. The
# container runs as any LOGFLOW_UID (compose's `user:`), so the job's directories are
# writable by every uid, with the sticky bit as /tmp has it: nobody removes another's files.
RUN mkdir -p spool checkpoint data edge/records && chown node:node spool && chmod 1777 checkpoint data edge/records
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# SIGTERM drains the pipeline and writes the last results before exiting.
STOPSIGNAL SIGTERM
CMD ["node", "dist/daemon/main.js", "--conf-file", "conf/docker.conf", "--name", "a1"]
