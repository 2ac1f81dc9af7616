# Confidential ACI attestation demo: lighttpd + the FastCGI programs (C), the SKR sidecar,
# supervisord.  Three stages:
#   build    the project's own `make` and `make install DESTDIR=/out` (the tree under /out/app)
#   skr      Microsoft's SKR sidecar image, only to copy /bin/skr out of it
#   runtime  Debian 12 slim with the runtime libraries; lighttpd and the programs run as "demo"
# Build: docker build -t aci-attestation-demo .   (or `az acr build`, as arm/deploy.sh does)
ARG SKR_TAG=2.13

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential libfcgi-dev libssl-dev libcurl4-openssl-dev libjson-c-dev libexpat1-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" && make install DESTDIR=/out

FROM mcr.microsoft.com/aci/skr:${SKR_TAG} AS skr

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        lighttpd supervisor libfcgi0ldbl libcurl4 libjson-c5 libssl3 libexpat1 ca-certificates curl \
        libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/sbin/lighttpd \
 && apt-get purge -y libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 demo \
 && useradd --system --uid 10001 --gid demo --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin demo \
 && install -d -o demo -g demo -m 0700 /run/demo \
 && install -d -o root -g demo -m 1775 /var/log/supervisor
# Port 80 as a non-root user: lighttpd alone holds cap_net_bind_service (file capability);
# the FastCGI programs it starts do not inherit it.

COPY --from=build /out/app /app
COPY --from=skr /bin/skr /usr/local/bin/skr
COPY arm/container/demo-start.sh /usr/local/bin/demo-start
RUN chmod 0755 /usr/local/bin/demo-start /usr/local/bin/skr

ENV APP_ROOT=/app \
    HTTP_BIND=0.0.0.0 \
    HTTP_PORT=80 \
    STATE_DIR=/run/demo \
    LOG_DIR=/var/log/supervisor \
    LOG_FILE=/var/log/supervisor/app.log \
    DATA_DIR=/app/data \
    DEMO_USER=demo \
    ATTESTATION_BACKEND=auto \
    SKR_SIDECAR_URL=http://127.0.0.1:8080 \
    BLOB_BACKEND=azure

EXPOSE 80
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS --max-time 4 -o /dev/null http://127.0.0.1:80/health || exit 1
# demo-start runs as root only to prepare STATE_DIR/LOG_DIR; supervisord then starts lighttpd
# as "demo" (supervisord.conf).
CMD ["/usr/local/bin/demo-start"]
