# novadock as a container, driving the HOST's Docker engine through its socket (docker-compose.yml).
#
# NOTE: the node:20 base image comes from a container registry. This project's own machines reach
# none (only npm and Debian's packages), so this file is written for, and checked on, machines that
# do; here, use `npm run up` instead.

# --- build: compile TypeScript; better-sqlite3 builds its native module if no prebuilt one matches
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

# --- run: the compiled server and its production dependencies only
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    NOVADOCK_DATA_DIR=/var/lib/novadock \
    NOVADOCK_BIND=0.0.0.0 \
    NOVADOCK_PORT=8080
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The built-in page's files, served as they are (src/ui/router.ts finds them here).
COPY --from=build /app/src/ui/public ./src/ui/public
# The database, the image store and the token secret; a named volume in docker-compose.yml.
VOLUME /var/lib/novadock
EXPOSE 8080
# Runs as root: it needs the Docker socket, which is root's (access to it is root-equivalent anyway).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:8080/healthcheck').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# main.ts migrates the database on start and drains on SIGTERM (docker stop).
STOPSIGNAL SIGTERM
CMD ["node", "--initial-old-space-size=64", "dist/src/main.js"]
