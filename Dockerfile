# syntax=docker/dockerfile:1
# Work-item server. Build: `docker build -t workitem-server .` (docker-compose.yml does it for you).

# --- build: all dependencies, compile TypeScript to dist/ ---------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The build also copies the dashboard's static files (and Chart.js from node_modules) into dist/ui, and the Redis
# Lua scripts next to the module that loads them.
COPY scripts/copy-ui-assets.js scripts/copy-lua-scripts.js ./scripts/
RUN npm run build

# --- runtime: production dependencies only, non-root ---------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing in production needs install scripts, and none should run as root here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The sample config is used when WORKITEM_CONFIG is unset (resolved relative to dist/config/).
COPY config ./config
USER node
EXPOSE 8080
# No curl in the slim image: node's fetch asks /readyz (broker + Redis connected, consuming).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/readyz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
