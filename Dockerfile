# syntax=docker/dockerfile:1
# keystroke-id serve in a container. Build: docker build -t keystroke-id .
# Run:  docker run -p 8000:8000 -v "$PWD/models:/models:ro" -v kid-store:/data keystroke-id
# Models baked in instead of mounted: docker build --target baked -t keystroke-id:baked .  (copies ./models)
# What of this file was checked without a container engine: scripts/container-smoke.mjs (README, "Container").

# --- build: compile TypeScript, then keep only the production dependencies ------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# install scripts of dependencies (native builds) run in `npm rebuild`; our own `prepare` needs src/ first
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-recorder.mjs ./scripts/build-recorder.mjs
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: node, the compiled code and production dependencies; never root -------------------------
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    KEYSTROKE_ID_STORE=/data/keystroke-id.db \
    PORT=8000
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY scripts/container-healthcheck.mjs ./scripts/container-healthcheck.mjs
# the store (enrolled users) lives on a volume; models are mounted read-only at /models (or baked in below)
RUN mkdir -p /data /models && chown node:node /data /models
VOLUME ["/data"]
USER node
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 CMD ["node", "scripts/container-healthcheck.mjs"]
ENTRYPOINT ["node", "bin/keystroke-id.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--models-dir", "/models"]

# --- baked: the same image with ./models copied in (docker build --target baked) ------------------------
FROM runtime AS baked
COPY --chown=node:node models /models
