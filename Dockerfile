# One image for every role; the compose files pick the role with the command.
# Node: the LTS line in .nvmrc (package.json "engines", docs/deploy.md and CI follow the same line).
# Three stages, so the image holds only what runs: `build` compiles with every dependency, `deps` installs the
# production dependencies alone (no compiler, test runner or linter), and the last stage copies the two together.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY server ./server
COPY bench ./bench
COPY web ./web
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency needs an install script to run; the npm cache stays in this stage.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
WORKDIR /app
# /metrics on its own port (never the published one): scrape <container>:9464 from inside the network.
ENV NODE_ENV=production HOST=0.0.0.0 METRICS_PORT=9464 WS_METRICS_PORT=9464
# Owned by node and empty: a named volume mounted here starts out writable by the roles (docker-compose.yml keeps
# the development signing keys in one, shared by every replica).
RUN mkdir -p /var/lib/scanlogin && chown node:node /var/lib/scanlogin
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
# The server and the page's scripts; the benchmarks compiled beside them stay in the build stage.
COPY --from=build /app/dist/server ./dist/server
COPY --from=build /app/dist/web ./dist/web
COPY web/public ./web/public
USER node
# Liveness only: a Redis outage must not get healthy processes restarted (compose asks /readyz for ordering).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "dist/server/healthcheck.js", "/livez"]
ENTRYPOINT ["node", "dist/server/cli.js"]
CMD ["http"]
