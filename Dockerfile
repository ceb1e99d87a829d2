# One image for every role; docker-compose.yml picks the role with the command.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY server ./server
COPY bench ./bench
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# /metrics on its own port (never the published one): scrape <container>:9464 from inside the network.
ENV NODE_ENV=production HOST=0.0.0.0 METRICS_PORT=9464 WS_METRICS_PORT=9464
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/public ./web/public
USER node
# Liveness only: a Redis outage must not get healthy processes restarted (compose asks /readyz for ordering).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "dist/server/healthcheck.js", "/livez"]
ENTRYPOINT ["node", "dist/server/cli.js"]
CMD ["http"]
