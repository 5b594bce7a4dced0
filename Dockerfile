# syntax=docker/dockerfile:1
# llm-provider: Node 22 LTS, production dependencies only, non-root. Build: docker build -t llm-provider .

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY contracts/package.json contracts/
COPY services/llm-provider/package.json services/llm-provider/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY contracts contracts
COPY services/llm-provider services/llm-provider
RUN npx tsc -b services/llm-provider

FROM node:22-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY services/llm-provider/package.json services/llm-provider/
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-dependencies /app/node_modules node_modules
COPY --from=build /app/contracts/package.json contracts/
COPY --from=build /app/contracts/dist contracts/dist
COPY --from=build /app/services/llm-provider/package.json services/llm-provider/
COPY --from=build /app/services/llm-provider/dist services/llm-provider/dist
USER node
# node is PID 1 and handles SIGTERM itself: stop taking requests, finish in-flight ones within
# service.shutdown_grace_ms, flush events, drain (give the orchestrator a longer grace period).
STOPSIGNAL SIGTERM
# A young generation of 32 MiB semi-spaces, fixed: fewer scavenges under load, and not shrunk
# while idle (V8 shrinks it then, and a burst after a quiet spell paid ~100 small scavenges while
# it grew back). The benchmarks run the service with the same flags (test/bench/service-config.ts).
# On the command line: Node refuses --min-semi-space-size in NODE_OPTIONS.
ENTRYPOINT ["node", "--max-semi-space-size=32", "--min-semi-space-size=32", "services/llm-provider/dist/main.js"]
CMD ["--config", "/etc/llm-provider/config.yaml"]
