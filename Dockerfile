# Multi-stage build: a static clusterlink binary on a distroless base, running as a non-root user.
# make docker passes VERSION, COMMIT and DATE as make build stamps them.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
    -o /out/clusterlink ./cmd/clusterlink

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
LABEL org.opencontainers.image.title="clusterlink" \
      org.opencontainers.image.description="Offset-exact cluster linking for Apache Kafka: mirror topics at the same offsets" \
      org.opencontainers.image.source="https://github.com/clusterlink/clusterlink" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}"
COPY --from=build /out/clusterlink /usr/local/bin/clusterlink
USER nonroot:nonroot
# The admin API, /metrics, /healthz and /readyz. In a container, set admin.listen: 0.0.0.0:8090 (the default
# 127.0.0.1:8090 is unreachable from outside it) together with admin.token or mTLS: the daemon refuses a listener
# beyond loopback with neither unless admin.allow.unauthenticated.remote is true.
EXPOSE 8090
ENTRYPOINT ["/usr/local/bin/clusterlink"]
CMD ["--help"]
