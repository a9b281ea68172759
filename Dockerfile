# syntax=docker/dockerfile:1

# Builds the worker, the receiver and the starter CLI into one small image:
# one binary, the starter, which is the worker or the receiver when called
# by that name (see starter/main.go), so the three share one copy of the
# Temporal SDK, gRPC and pgx; the service picks the program with its
# command (CMD runs the worker).

# Compile on the build machine's own platform and cross-compile to the target
# one: pure Go, so no emulation is needed for other architectures.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod or go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG TARGETOS
ARG TARGETARCH
# CGO off: a static binary for a base image without libc. The links are
# made here, where there is a shell; COPY keeps them links.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/starter ./starter && \
    ln -s starter /out/worker && \
    ln -s starter /out/receiver

# Static binaries need only CA certificates and time zones, which distroless
# carries; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# The shipped journeys, which docker-compose.yml's one-shot publish service
# publishes: starter publish /usr/share/nurture/journeys/...
COPY journeys/*.yaml /usr/share/nurture/journeys/
USER nonroot
CMD ["/usr/local/bin/worker"]
