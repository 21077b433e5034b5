# syntax=docker/dockerfile:1
# One image, every service binary: `prpulse-ingest` (the default entrypoint),
# `prpulse-worker`, `prpulse-sync-scheduler`, `prpulse-api` and the `prpulse`
# operator CLI, all in /usr/local/bin. The syntax line must come first, or
# it is an ordinary comment. scripts/check-deploy checks that every binary
# docker-compose.yml and deploy/k8s start is listed here.
FROM rust:1.95-slim-bookworm AS build
ARG PRPULSE_BINARIES="prpulse-ingest prpulse-worker prpulse-sync-scheduler prpulse-api prpulse"
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked $(for bin in $PRPULSE_BINARIES; do printf -- '--bin %s ' "$bin"; done) \
    && mkdir -p /out \
    && for bin in $PRPULSE_BINARIES; do cp "target/release/$bin" /out/; done

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home prpulse
COPY --from=build /out/ /usr/local/bin/
USER 10001
EXPOSE 8080 9100 9101 9102
ENTRYPOINT ["/usr/local/bin/prpulse-ingest"]
