import os
import sys

# the griddb service's code lives in services/griddb/src (no package install needed)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                "services", "griddb", "src")))
