# The controller image for teams that build with Docker. `make image` builds
# the same layout (one static binary on an empty base, non-root) without
# Docker, reproducibly; this file is the equivalent for `docker buildx build
# --platform linux/amd64,linux/arm64 .`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/agentic-rag/ragdeploy/internal/cli.Version=$VERSION -X github.com/agentic-rag/ragdeploy/internal/cli.Commit=$COMMIT" \
      -o /out/ragdeploy ./cmd/ragdeploy

FROM scratch
COPY --from=build --chmod=0555 /out/ragdeploy /ragdeploy
USER 65532:65532
ENTRYPOINT ["/ragdeploy"]
CMD ["controller"]
