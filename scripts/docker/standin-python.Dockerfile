# Stand-in for python:3.11-slim: Debian bookworm's Python 3.11 with the same names on PATH.
ARG ROOT_IMAGE=blog-standin/debian:bookworm
FROM ${ROOT_IMAGE}
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV LANG=C.UTF-8 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
RUN ln -sf /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
