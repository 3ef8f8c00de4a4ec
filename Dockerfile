# syntax=docker/dockerfile:1
#
# Sample image for the GPU worker (workers/gpu-worker.ts, task queue ml-gpu); the control worker can run
# from the same image with another command (deploy/k8s/control-worker.yaml).
#
# NOT BUILT OR RUN where it was written (no Docker daemon, no GPU there): see deploy/README.md for what
# was and was not checked before you rely on it.
#
#   docker build --build-arg MLOPS_GIT_COMMIT=$(git rev-parse HEAD) -t mlops-worker:$(git rev-parse --short HEAD) .
#   docker run --rm --gpus 1 -e TEMPORAL_ADDRESS=… -e MLOPS_STORE=gs://… mlops-worker:…
#
# @tensorflow/tfjs-node-gpu 4.22.0 downloads libtensorflow-gpu-linux-x86_64-2.9.1 at install. TensorFlow
# 2.9 was built against CUDA 11.2 and cuDNN 8.1, which is what tfjs-node's README asks for (NVIDIA
# driver > 450 on the node). Hence this base image: CUDA 11.2.2 runtime with cuDNN 8.1.1.
# NVIDIA deletes end-of-life tags from Docker Hub; if this one is gone, point CUDA_IMAGE at a copy in
# your own registry (see deploy/README.md).
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE} AS base
# Node 20 from the official image: its binaries need glibc >= 2.28 and Ubuntu 20.04 has 2.31.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version

FROM base AS build
# ca-certificates for the libtensorflow and addon downloads; python3, make and g++ only for
# node-pre-gyp's fallback (compiling the addon when no prebuilt one matches).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts must run for @tensorflow/tfjs-node-gpu (libtensorflow download, native addon) and sharp.
# npm 10 (Node 20's) runs them; npm 11 also reads package.json "allowScripts", which must approve them.
# An optional dependency whose install fails is dropped silently, so the require below fails the build
# instead of shipping an image that trains on the CPU. (At build time there is no GPU or driver:
# TensorFlow may warn that it cannot load libcuda.so.1; that is expected here.)
RUN npm ci --omit=dev --no-audit --no-fund \
 && node -e "require('@tensorflow/tfjs-node-gpu'); console.log('tfjs-node-gpu loads')" \
 && npm cache clean --force
COPY . .

FROM base AS runtime
# Lineage: the registry records this commit for every model the image trains (lib/registry/code-version.ts).
ARG MLOPS_GIT_COMMIT=""
# Training runs in a child process while evaluation runs in the worker's own: two TensorFlows share the
# GPU, so neither may map nearly all of its memory up front (TensorFlow's default).
ENV MLOPS_GIT_COMMIT=${MLOPS_GIT_COMMIT} \
    NODE_ENV=production \
    TF_FORCE_GPU_ALLOW_GROWTH=true
RUN groupadd --gid 10001 mlops \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mlops
WORKDIR /app
# Owned by root and read-only to the worker; tsx caches its transpiled files under /tmp.
COPY --from=build /app /app
USER 10001:10001
# Worker.run() drains on SIGTERM (what `docker stop` and Kubernetes send).
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "workers/gpu-worker.ts"]
