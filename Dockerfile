# Multi-stage build: a static clusterlink binary on a distroless base, running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/clusterlink ./cmd/clusterlink

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clusterlink /usr/local/bin/clusterlink
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/clusterlink"]
CMD ["--help"]
