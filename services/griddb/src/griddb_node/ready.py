"""griddb-ready: exit 0 only when this node is ACTIVE and MASTER of its cluster.

The readiness probe. The server listens (TCP) before it has joined its cluster, so a
TCP probe says ready too early; this asks the node's REST API what gs_stat asks
(GET /node/stat), with the credentials from the environment, so the password never
appears on a command line.
"""

from __future__ import annotations

import os
import sys

from .rest import NodeApiError, NodeClient


def main() -> int:
    user = os.environ.get("GRIDDB_USERNAME", "")
    password = os.environ.get("GRIDDB_PASSWORD", "")
    if not user or not password:
        print("griddb-ready: GRIDDB_USERNAME and GRIDDB_PASSWORD must be set", file=sys.stderr)
        return 2
    try:
        cluster = NodeClient(user, password, timeout=3.0).stat().get("cluster") or {}
    except (NodeApiError, ValueError) as e:
        print(f"griddb-ready: not ready: {e}", file=sys.stderr)
        return 1
    node_status = cluster.get("nodeStatus")
    cluster_status = cluster.get("clusterStatus")
    if node_status == "ACTIVE" and cluster_status == "MASTER":
        print(f"ready: {cluster.get('clusterName')} MASTER")
        return 0
    print(f"griddb-ready: not ready: node {node_status}, cluster {cluster_status}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
