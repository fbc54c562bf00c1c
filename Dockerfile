# fedgate image: gateway, adapters and tools. Multi-stage; runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fedgate ./fedgate
COPY gateway ./gateway
COPY agency_adapters ./agency_adapters
COPY policies ./policies
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /var/lib/fedgate --create-home fedgate
COPY --from=build /install /usr/local
COPY policies /opt/fedgate/policies
COPY agency_adapters/mappings /opt/fedgate/mappings
# Mount points of the compose volumes, owned by the service user: Docker seeds a new named
# volume with the ownership of the directory it is mounted over, so `init` (and the gateway's
# audit log) can write to them without running as root.
RUN mkdir -p /pki /keys /data /bundle /var/lib/fedgate/audit \
    && chown fedgate:fedgate /pki /keys /data /bundle /var/lib/fedgate/audit
USER fedgate
WORKDIR /var/lib/fedgate
ENTRYPOINT ["fedgate"]
CMD ["--help"]
