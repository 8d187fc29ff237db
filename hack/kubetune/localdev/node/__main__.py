"""`python -m kubetune.localdev.node --kubeconfig ... --name local-node`."""

from kubetune.localdev.node.cli import run

if __name__ == "__main__":
    raise SystemExit(run())
