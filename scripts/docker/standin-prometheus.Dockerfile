# Stand-in for prom/prometheus: Debian's prometheus package laid out like the official image
# (/bin/prometheus entrypoint, /bin being /usr/bin under bookworm's merged /usr, config in /etc/prometheus, data in /prometheus, runs as nobody).
ARG ROOT_IMAGE=blog-standin/debian:bookworm
FROM ${ROOT_IMAGE}
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Whatever prometheus bookworm ships: the stand-in follows its security updates instead of a pin that vanishes.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc/* \
    && test -x /bin/prometheus && test -x /bin/promtool \
    && mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER 65534:65534
EXPOSE 9090
VOLUME ["/prometheus"]
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
