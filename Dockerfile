# Order service image: production dependencies installed in a build stage, run on Bun's distroless image.
#
#   docker build -t order-service .
#   docker run --rm -p 3000:3000 -v order-data:/data order-service
#
# Works with the classic builder and BuildKit alike (no syntax line, no COPY --link, no heredocs).
# BUN_VERSION must stay the Bun that .ci/run and package.json ("packageManager") use.
ARG BUN_VERSION=1.4.5

# ---------------------------------------------------------------- deps: production node_modules
FROM oven/bun:${BUN_VERSION}-slim AS deps
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production \
 && rm -rf /root/.bun/install/cache /home/bun/.bun/install/cache /tmp/*

# ---------------------------------------------------------------- build: prune what never runs
FROM oven/bun:${BUN_VERSION}-slim AS build
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY src ./src
# elysia and @elysiajs/openapi declare typescript and @types/bun as peer dependencies, so a production
# install still brings in the TypeScript compiler (~30 MB native binary), bun-types and @types/*. They
# are only loaded by @elysiajs/openapi's fromTypes(); when src/ does not call it they are dropped, as
# are type declarations and source maps, which no runtime ever reads.
# The empty /data is copied into the runtime image owned by the runtime user (65532, "nonroot" in the
# distroless image); a fresh named volume mounted there takes over that owner.
RUN if grep -rqs "fromTypes" src; then \
      echo "src/ uses fromTypes(): keeping typescript in the image"; \
    else \
      rm -rf node_modules/typescript node_modules/@typescript node_modules/bun-types node_modules/@types; \
    fi \
 && find node_modules -type f \( -name "*.d.ts" -o -name "*.d.cts" -o -name "*.d.mts" -o -name "*.map" \) -delete \
 && rm -rf node_modules/.cache node_modules/.bin \
 && mkdir -p /data

# ---------------------------------------------------------------- runtime
# Distroless: glibc, CA certificates and the bun binary; no shell, no package manager, no curl.
FROM oven/bun:${BUN_VERSION}-distroless AS runtime
WORKDIR /app
# Code and dependencies stay owned by root: the service can read them but not change them.
COPY --from=build /app/node_modules ./node_modules
COPY package.json tsconfig.json bunfig.toml ./
COPY drizzle ./drizzle
COPY src ./src
# The example processing module (PROCESS_ORDER_MODULE=examples/three-step.ts).
COPY examples ./examples
COPY --from=build --chown=65532:65532 /data /data

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_PATH=/data/orders.db

USER 65532:65532
VOLUME ["/data"]
EXPOSE 3000

# Ready = database writable and workers alive (GET /ready answers 200, else 503). Bun does the request
# itself because the image has no curl or wget.
HEALTHCHECK --interval=5s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/bun", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '3000') + '/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Bun runs as PID 1 (exec form, no shell in between), so `docker stop`'s SIGTERM reaches the service's own
# handler, which drains the workers and exits 0. `docker run --init` or compose's `init: true` puts
# docker's tini in front of it as well.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/bun"]
CMD ["src/main.ts"]
