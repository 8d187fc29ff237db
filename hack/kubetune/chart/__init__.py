"""The Helm chart's generated parts: the values model and schema, CRD templates, default Trainer
parameters and the kustomize base, all from one source (`python -m kubetune.chart.generate`)."""
