"""The node's system REST API on port 10040: the calls the gs_* tools make.

gs_stat = GET /node/stat, gs_joincluster = POST /node/join, gs_stopcluster = POST
/cluster/stop, gs_stopnode = POST /node/shutdown, all with HTTP basic auth. The
tools take the password on their command line (`-u user/pass`, visible in `ps`);
calling the API from Python keeps it in memory only.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional


class NodeApiError(RuntimeError):
    pass


class NodeClient:
    def __init__(self, username: str, password: str, host: str = "127.0.0.1",
                 port: int = 10040, timeout: float = 5.0) -> None:
        self._base = f"http://{host}:{port}"
        token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
        self._auth = "Basic " + token
        self._timeout = timeout
        # never use a proxy for the node's own API
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _request(self, method: str, path: str, data: Optional[dict] = None) -> Optional[str]:
        body = urllib.parse.urlencode(data).encode("ascii") if data is not None else None
        req = urllib.request.Request(self._base + path, data=body, method=method)
        req.add_header("Authorization", self._auth)
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self._opener.open(req, timeout=self._timeout) as resp:
                return resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300]
            raise NodeApiError(f"{method} {path}: HTTP {e.code} {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise NodeApiError(f"{method} {path}: {e}") from None

    def stat(self) -> dict:
        text = self._request("GET", "/node/stat")
        return json.loads(text or "{}")

    def cluster_status(self) -> Optional[str]:
        """'MASTER' once the one-node cluster has formed; 'SUB_CLUSTER' before."""
        return (self.stat().get("cluster") or {}).get("clusterStatus")

    def node_status(self) -> Optional[str]:
        """'INACTIVE' before join/after stop, 'ACTIVE' in a cluster, 'NORMAL_SHUTDOWN' ..."""
        return (self.stat().get("cluster") or {}).get("nodeStatus")

    def join(self, cluster_name: str, min_node_num: int = 1) -> None:
        self._request("POST", "/node/join",
                      {"clusterName": cluster_name, "minNodeNum": min_node_num})

    def stop_cluster(self) -> None:
        self._request("POST", "/cluster/stop", {})

    def shutdown(self, force: bool = False) -> None:
        self._request("POST", "/node/shutdown", {"force": "true" if force else "false"})
