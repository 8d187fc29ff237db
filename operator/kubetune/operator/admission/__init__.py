"""The operator's validating admission webhook: Trainings judged by the operator's own checks
(kubetune.operator.validation) when they are applied, so `kubectl apply` and GitOps tools show the
error at sync time instead of a Failed phase later. review.py decides, server.py serves it over HTTPS."""
