"""`python -m smallville.scale.probe ADDRESS`: join a Ray cluster, print its nodes and CPUs as one JSON line, leave.

Owns nothing but the check a driver runs in a child process before it joins (`cluster.probe`), so that an address
that does not answer costs a bounded wait, not a hang. Errors are a JSON line with `error`, exit status 2.
"""

from __future__ import annotations

import json
import logging
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(json.dumps({"error": "usage: python -m smallville.scale.probe ADDRESS"}))
        return 2
    try:
        import ray

        ray.init(address=argv[0], logging_level=logging.ERROR, log_to_driver=False)
        try:
            resources = ray.cluster_resources()
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        finally:
            ray.shutdown()
    except Exception as exc:  # a one-line reason for the parent, whatever Ray raised
        print(json.dumps({"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}))
        return 2
    print(json.dumps({"cpus": resources.get("CPU", 0.0), "nodes": nodes, "ray": ray.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
