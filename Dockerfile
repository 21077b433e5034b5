# syntax=docker/dockerfile:1
# One image, both binaries: `prpulse-ingest` (default) or `prpulse-worker`.
# The syntax line must come first, or it is an ordinary comment.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/prpulse-ingest target/release/prpulse-worker /out/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home prpulse
COPY --from=build /out/ /usr/local/bin/
USER 10001
EXPOSE 8080 9100 9101
ENTRYPOINT ["/usr/local/bin/prpulse-ingest"]
